"""Three (or more) Kafka nodes on loopback: ``tradelane services up --kafka-brokers 3``.

Each node is broker and controller in one process (like the single broker) and a voter of one
static KRaft quorum of all nodes, so any one node may die: the other two still hold a quorum
and two in-sync replicas of every partition. Ports follow from the configured first port P
(the first of ``TRADELANE_KAFKA_BOOTSTRAP_SERVERS``, 9092 by default): node N listens for
clients on P + 2(N-1) and for the quorum on the port after it (9092/9093, 9094/9095,
9096/9097). Each node keeps its data under ``$TRADELANE_HOME/kafka-N`` and its pid and log
under ``$TRADELANE_HOME/run/kafka-N.*``; the nodes share one keyring and one cluster id.

Users and ACLs are the single broker's (:mod:`devtools.services.kafka_access`): the admin's
SCRAM credential is written when each node's storage is formatted, the service users and their
ACLs once the quorum answers; they live in the replicated metadata log, so every node has them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devtools.services.base import LocalService, ServiceStatus
from devtools.services.kafka import MAIN_CLASS, Kafka, new_cluster_id
from devtools.services.kafka_access import provision
from devtools.services.process import ManagedProcess, ServiceError, pid_alive, wait_until
from tradelane.settings import KafkaSettings, ServicesSettings

REPLICATION = 3
"""Replicas of every topic (and of the group and transaction topics) on a cluster."""
MIN_INSYNC = 2
"""Replicas that must have a write before it is acknowledged (``acks=all``)."""
PORT_STEP = 2
"""Node N's client port is P + 2(N-1); its controller port the next one."""
NODE_PID = re.compile(r"kafka-(\d+)\.pid")


def node_ports(first_port: int, nodes: int) -> list[tuple[int, int]]:
    """(client port, controller port) of each node, node 1 first."""
    return [(first_port + PORT_STEP * i, first_port + PORT_STEP * i + 1) for i in range(nodes)]


def bootstrap_list(host: str, first_port: int, nodes: int) -> str:
    """The clients' ``TRADELANE_KAFKA_BOOTSTRAP_SERVERS`` for the cluster: every node."""
    return ",".join(f"{host}:{client}" for client, _ in node_ports(first_port, nodes))


def recorded_nodes(home: Path) -> int:
    """How many cluster nodes have a live pid file under ``home`` (0: no cluster runs)."""
    run = home.resolve() / "run"
    found = [int(m.group(1)) for p in run.glob("kafka-*.pid") if (m := NODE_PID.fullmatch(p.name))]
    live = [n for n in found if ManagedProcess(f"kafka-{n}", run).running()]
    return max(live, default=0)


class KafkaNode(Kafka):
    """Node ``node`` of ``nodes``: its own ports, data dir, pid and log."""

    heap = "512m"

    def __init__(
        self, settings: ServicesSettings, kafka: KafkaSettings, node: int, nodes: int
    ) -> None:
        super().__init__(settings, kafka)
        self.node, self.nodes = node, nodes
        self.label = f"kafka-{node}"
        self.process = ManagedProcess(self.label, self.home / "run")

    @property
    def first(self) -> tuple[str, int]:
        host, _, port = super().kafka.bootstrap_servers.split(",")[0].strip().rpartition(":")
        return host, int(port)

    @property
    def host_port(self) -> tuple[str, int]:
        host, first = self.first
        return host, node_ports(first, self.nodes)[self.node - 1][0]

    @property
    def kafka(self) -> KafkaSettings:
        """The admin's settings for this node alone (its readiness is its own)."""
        host, port = self.host_port
        return super().kafka.model_copy(update={"bootstrap_servers": f"{host}:{port}"})

    @property
    def data_dir(self) -> Path:
        return self.home / self.label

    def layout(self) -> dict[str, object]:
        host, first = self.first
        voters = ",".join(
            f"{n}@{host}:{controller}"
            for n, (_, controller) in enumerate(node_ports(first, self.nodes), start=1)
        )
        return {
            "node_id": self.node,
            "voters": voters,
            "replication": min(REPLICATION, self.nodes),
            "min_isr": min(MIN_INSYNC, self.nodes),
        }

    def cluster_id(self) -> str | None:
        """The cluster id this node's storage was formatted with, if it was."""
        meta = self.storage / "meta.properties"
        if not meta.exists():
            return None
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
        return None

    def start(self) -> None:
        """Start the formatted node's process (formatting is the cluster's job)."""
        self.process.start(self._java(MAIN_CLASS, str(self.configure())))

    def status(self, note: str = "") -> ServiceStatus:
        return dataclasses.replace(super().status(note), name=self.label)


class KafkaCluster(LocalService):
    """``nodes`` Kafka nodes forming one cluster (see the module's docstring)."""

    name = "kafka"
    ready_timeout_s = 150.0

    def __init__(
        self, settings: ServicesSettings, kafka: KafkaSettings | None = None, nodes: int = 3
    ) -> None:
        super().__init__(settings)
        if nodes < 2:
            raise ServiceError("a Kafka cluster has at least 2 nodes (1 is the single broker)")
        base = kafka or KafkaSettings()
        self.nodes = [KafkaNode(settings, base, n, nodes) for n in range(1, nodes + 1)]
        self.process = self.nodes[0].process

    @property
    def kafka(self) -> KafkaSettings:
        """The admin's settings with every node in the bootstrap list."""
        host, first = self.nodes[0].first
        return self.nodes[0].kafka.model_copy(
            update={"bootstrap_servers": bootstrap_list(host, first, len(self.nodes))}
        )

    @property
    def keyring(self) -> Path:
        return self.nodes[0].keyring

    def passwords(self) -> dict[str, str]:
        return self.nodes[0].passwords()

    def endpoint(self) -> str:
        return self.kafka.bootstrap_servers

    def install(self) -> None:
        self.nodes[0].install()

    def ready(self) -> bool:
        return all(n.ready() for n in self.nodes)

    def version(self) -> str:
        return f"{self.nodes[0].version()}, {len(self.nodes)} nodes"

    def launch(self) -> None:
        """Format the nodes that are not (one cluster id, one admin credential), then start
        every node that does not run."""
        ids = {i for n in self.nodes if (i := n.cluster_id()) is not None}
        if len(ids) > 1:
            raise ServiceError(f"the nodes' storages belong to different clusters: {ids}")
        cluster_id = ids.pop() if ids else new_cluster_id()
        scram = self.nodes[0].admin_scram()
        for node in self.nodes:
            node.format(node.configure(), cluster_id, scram)
        for node in self.nodes:
            if not node.process.running():
                node.start()

    def up(self) -> ServiceStatus:
        for node in self.nodes:
            if not node.process.running() and node.ready():
                raise ServiceError(
                    f"{node.label}: {node.endpoint()} is already served by a process this "
                    "project did not start; pick another first port"
                )
        if all(n.process.running() for n in self.nodes) and self.ready():
            return self.status(note="already running")
        self.install()
        self.passwords()
        self.launch()
        deadline = time.monotonic() + self.ready_timeout_s
        for node in self.nodes:
            try:
                wait_until(
                    node.ready,
                    max(1.0, deadline - time.monotonic()),
                    f"{node.label} at {node.endpoint()}",
                    alive=node.process.running,
                )
            except ServiceError as exc:
                tail = node.process.log_tail()
                raise ServiceError(f"{exc}\n--- {node.process.log_file} ---\n{tail}") from exc
        provision(self.kafka, self.nodes[0].libs, self.cache, self.process.log_file)
        return self.status(note="started")

    def start_node(self, index: int) -> None:
        """Start one stopped node again and wait until it answers (a fault run's restart)."""
        node = self.nodes[index]
        if not node.process.running():
            node.start()
        wait_until(node.ready, node.ready_timeout_s, node.label, alive=node.process.running)

    def kill_node(self, index: int) -> bool:
        """SIGKILL one node by its recorded pid (no flush, no controlled shutdown: a crash);
        False if it was not running."""
        node = self.nodes[index]
        pid = node.process.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), 10, f"killing {node.label}")
        node.process.pid_file.unlink(missing_ok=True)
        return True

    def down(self) -> bool:
        """Stop every node at once: one by one, the last ones wait for a quorum that has gone
        (seconds each) before they give up on a controlled shutdown."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            stopped = list(pool.map(lambda n: n.down(), self.nodes))
        return any(stopped)

    def statuses(self) -> list[ServiceStatus]:
        return [n.status() for n in self.nodes]

    def status(self, note: str = "") -> ServiceStatus:
        pids = [n.process.pid() for n in self.nodes]
        return ServiceStatus(
            self.name,
            any(p is not None for p in pids),
            self.ready(),
            pids[0],
            self.endpoint(),
            self.version(),
            note,
        )
