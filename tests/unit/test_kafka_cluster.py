"""The local Kafka cluster's layout (ports, quorum, replication) and the single broker's, as
rendered into each node's ``server.properties``; which Kafka `services` acts on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from devtools.services import manager
from devtools.services.kafka import Kafka
from devtools.services.kafka_cluster import (
    KafkaCluster,
    bootstrap_list,
    node_ports,
    recorded_nodes,
)
from devtools.services.process import ManagedProcess
from faults.cluster import free_ports
from tradelane.errors import ServiceError
from tradelane.settings import KafkaSettings, ServicesSettings
from transport.admin import replication_factor


def _services(home: Path, **changes: object) -> ServicesSettings:
    return ServicesSettings().model_copy(update={"home": home, **changes})


def _properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_nodes_take_port_pairs_from_the_first_port() -> None:
    assert node_ports(9092, 3) == [(9092, 9093), (9094, 9095), (9096, 9097)]
    assert bootstrap_list("127.0.0.1", 9092, 3) == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"


def test_each_node_renders_its_place_in_one_quorum(tmp_path: Path) -> None:
    cluster = KafkaCluster(
        _services(tmp_path), KafkaSettings(bootstrap_servers="127.0.0.1:29000"), nodes=3
    )
    assert cluster.endpoint() == "127.0.0.1:29000,127.0.0.1:29002,127.0.0.1:29004"
    rendered = [_properties(node.configure()) for node in cluster.nodes]
    voters = "1@127.0.0.1:29001,2@127.0.0.1:29003,3@127.0.0.1:29005"
    for n, props in enumerate(rendered, start=1):
        port = 29000 + 2 * (n - 1)
        assert props["node.id"] == str(n)
        assert props["controller.quorum.voters"] == voters
        assert props["listeners"] == (
            f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}"
        )
        assert props["log.dirs"] == str(tmp_path.resolve() / f"kafka-{n}" / "data")
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
        ):
            assert props[key] == "3", key
        assert props["min.insync.replicas"] == "2"
        assert props["transaction.state.log.min.isr"] == "2"
    # authentication and authorisation exactly as the single broker has them
    single = _properties(Kafka(_services(tmp_path / "single")).configure())
    secured = ("sasl.enabled.mechanisms", "authorizer.class.name", "super.users")
    for key in secured:
        assert {props[key] for props in rendered} == {single[key]}
    assert len({n.keyring for n in cluster.nodes}) == 1  # one set of users and passwords


def test_the_single_broker_keeps_one_replica_and_its_own_quorum(tmp_path: Path) -> None:
    broker = Kafka(_services(tmp_path), KafkaSettings(bootstrap_servers="127.0.0.1:9092"))
    props = _properties(broker.configure())
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["log.dirs"] == str(tmp_path.resolve() / "kafka" / "data")


def test_a_cluster_has_two_nodes_at_least(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="at least 2"):
        KafkaCluster(_services(tmp_path), nodes=1)


def test_services_picks_the_cluster_when_asked_or_when_one_runs(tmp_path: Path) -> None:
    assert isinstance(manager.kafka(_services(tmp_path)), Kafka)
    asked = manager.kafka(_services(tmp_path, kafka_brokers=3))
    assert isinstance(asked, KafkaCluster)
    assert [s.name for s in asked.statuses()] == ["kafka-1", "kafka-2", "kafka-3"]
    # a cluster started earlier is found by its nodes' pid files (this process stands in)
    run = tmp_path / "run"
    run.mkdir()
    for n in (1, 2, 3):
        ManagedProcess(f"kafka-{n}", run).pid_file.write_text(f"{os.getpid()}\n")
    assert recorded_nodes(tmp_path) == 3
    found = manager.kafka(_services(tmp_path))
    assert isinstance(found, KafkaCluster)
    assert len(found.nodes) == 3


class _Cluster:
    """An admin client's stand-in answering ``describe_cluster`` with ``brokers`` brokers."""

    def __init__(self, brokers: int) -> None:
        self.brokers = brokers

    async def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"node_id": n} for n in range(self.brokers)]}


@pytest.mark.parametrize(
    ("brokers", "configured", "replicas"),
    [
        (1, None, 1),
        (2, None, 2),
        (3, None, 3),
        (5, None, 3),
        (3, 1, 1),
        (5, 5, 5),
    ],
)
def test_topics_get_one_replica_per_broker_up_to_three_unless_configured(
    brokers: int, configured: int | None, replicas: int
) -> None:
    admin = cast(AIOKafkaAdminClient, _Cluster(brokers))
    settings = KafkaSettings(replication_factor=configured)
    assert asyncio.run(replication_factor(admin, settings)) == replicas


def test_a_run_s_cluster_gets_consecutive_free_ports() -> None:
    first = free_ports(6)
    with contextlib.ExitStack() as stack:  # every one of them can be bound now
        for port in range(first, first + 6):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", port))
