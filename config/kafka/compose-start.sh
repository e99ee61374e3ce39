#!/bin/bash
# The compose stack's Kafka (apache/kafka image), the single broker `kafka` or a node of the
# three-node cluster (profile "cluster": kafka-1..3 set KAFKA_NODE_ID, KAFKA_VOTERS,
# KAFKA_ADVERTISED_HOST, KAFKA_REPLICAS=3 and KAFKA_MIN_ISR=2). Broker and controller in one
# process; SASL/SCRAM on the client listener, PLAIN on the controller listener, the standard
# authorizer with no access where no ACL grants it. The admin's SCRAM credential is written
# when the storage is formatted (every node of a cluster with the same cluster id and the same
# credential); `kafka-access` (acls.sh) creates the service users and their ACLs once the
# broker answers.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD}"
: "${KAFKA_CONTROLLER_PASSWORD:?set KAFKA_CONTROLLER_PASSWORD}"
NODE_ID="${KAFKA_NODE_ID:-1}"
VOTERS="${KAFKA_VOTERS:-1@kafka:9093}"
HOST="${KAFKA_ADVERTISED_HOST:-kafka}"
REPLICAS="${KAFKA_REPLICAS:-1}"
MIN_ISR="${KAFKA_MIN_ISR:-1}"
CONF=/tmp/server.properties
umask 077
cat > "$CONF" <<EOF
process.roles=broker,controller
node.id=${NODE_ID}
controller.quorum.voters=${VOTERS}
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=SASL_PLAINTEXT://${HOST}:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
log.dirs=/var/lib/kafka/data
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${KAFKA_CONTROLLER_PASSWORD}" user_controller="${KAFKA_CONTROLLER_PASSWORD}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
offsets.topic.replication.factor=${REPLICAS}
transaction.state.log.replication.factor=${REPLICAS}
transaction.state.log.min.isr=${MIN_ISR}
share.coordinator.state.topic.replication.factor=${REPLICAS}
share.coordinator.state.topic.min.isr=${MIN_ISR}
default.replication.factor=${REPLICAS}
min.insync.replicas=${MIN_ISR}
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
EOF
# the healthcheck logs in as the admin with this file
cat > /tmp/admin-client.properties <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
EOF
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  /opt/kafka/bin/kafka-storage.sh format --cluster-id="${KAFKA_CLUSTER_ID:-x6KSfIKvQXKGqxm3fzz65A}" \
    -c "$CONF" --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$CONF"
