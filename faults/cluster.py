"""A Kafka cluster of a fault run's own: three nodes on free loopback ports, their data under
the run's log folder, stopped (by pid) and their data removed when the run ends. The shared
services are never touched: a run whose nodes are SIGKILLed cannot disturb anyone else."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from devtools.services.kafka_cluster import PORT_STEP, KafkaCluster
from tradelane.settings import KafkaSettings, ServicesSettings
from transport.admin import prepare_broker
from transport.probes import free_port


def free_ports(count: int, host: str = "127.0.0.1") -> int:
    """A first port such that it and the ``count - 1`` after it are free right now."""
    for _ in range(200):
        first = free_port(host)
        if first + count > 65535:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(first, first + count):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind((host, port))
        except OSError:
            continue
        return first
    raise OSError(f"no {count} consecutive free ports on {host}")


@contextlib.contextmanager
def private_cluster(
    home: Path, nodes: int, progress: Callable[[str], None] = print
) -> Iterator[KafkaCluster]:
    """Start a cluster of ``nodes`` under ``home`` with its topics and warm-up done; kill it
    and remove its data on the way out (its logs stay in ``home/run``)."""
    first = free_ports(PORT_STEP * nodes)
    cluster = KafkaCluster(
        ServicesSettings().model_copy(update={"home": home}),
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{first}"),
        nodes,
    )
    try:
        progress(f"kafka: starting {nodes} nodes at {cluster.endpoint()} (data in {home})")
        cluster.up()
        asyncio.run(prepare_broker(cluster.kafka))
        yield cluster
    finally:
        # SIGKILL, not a controlled shutdown: the data goes anyway, and nodes stopping
        # together wait for a quorum that has gone (up to 30 s) before they give up
        for index in range(len(cluster.nodes)):
            cluster.kill_node(index)
        for node in cluster.nodes:
            shutil.rmtree(node.data_dir, ignore_errors=True)


def child_env(cluster: KafkaCluster) -> dict[str, str]:
    """What a bridge or worker of the run needs to reach the cluster as its own user."""
    return {
        "TRADELANE_KAFKA_BOOTSTRAP_SERVERS": cluster.kafka.bootstrap_servers,
        "TRADELANE_KAFKA_CREDENTIALS_FILE": str(cluster.keyring),
    }
