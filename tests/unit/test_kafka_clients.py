"""Every Kafka client comes from ``transport/kafka.py``: a scan of the source tree holds every
other module to it, and the options carry the settings (compression and idempotence reach
every producer; a call site's overrides win). Start-up against a broker that is not ready is
retried up to a deadline, with a clear error."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaConnectionError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnrecognizedBrokerVersion,
)

from cli.main import main
from tradelane.errors import ServiceError
from tradelane.settings import KafkaSettings
from transport import kafka as clients
from transport.probes import free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENT_CLASSES = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
FACTORY_MODULE = "transport/kafka.py"
IDEMPOTENCE_OFF = {
    # the fan-out benchmark's load producer, kept as it was measured
    "bench/feed.py",
}
SKIPPED_DIRS = {"tests", "node_modules", "build", "dist", "__pycache__"}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options are built without the machine's keyring: these tests run on any checkout."""
    monkeypatch.setenv("TRADELANE_KAFKA_USERNAME", "tradelane-test")
    monkeypatch.setenv("TRADELANE_KAFKA_PASSWORD", "test-password")


def _sources() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not any(
            part.startswith(".") or part in SKIPPED_DIRS
            for part in path.relative_to(ROOT).parts[:-1]
        )
    ]


def _imported_names(tree: ast.AST) -> dict[str, str]:
    """Local name → the dotted name it was imported as."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    """Every call in ``path`` whose callee resolves through the imports: (dotted name, call)."""
    tree = ast.parse(path.read_text(), str(path))
    names = _imported_names(tree)
    found: list[tuple[str, ast.Call]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts: list[str] = []
        func: ast.expr = node.func
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if isinstance(func, ast.Name) and func.id in names:
            found.append((".".join([names[func.id], *reversed(parts)]), node))
    return found


def _constructions(path: Path) -> list[tuple[int, str]]:
    """(line, class) of every aiokafka client built in ``path``."""
    return sorted(
        (call.lineno, name)
        for name, call in _calls(path)
        if name.split(".")[0] == "aiokafka" and name.split(".")[-1] in CLIENT_CLASSES
    )


def test_no_module_builds_a_kafka_client_by_hand() -> None:
    """Security and tuning are set in one module: any other construction would bypass it."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in _sources()
        if str(path.relative_to(ROOT)) != FACTORY_MODULE
        for line, name in _constructions(path)
    ]
    assert not offenders, "build Kafka clients with transport.kafka:\n" + "\n".join(offenders)


def test_the_scan_sees_constructions_and_aliases(tmp_path: Path) -> None:
    assert len(_constructions(ROOT / FACTORY_MODULE)) == 3
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import aiokafka\n"
        "import aiokafka.admin as kadmin\n"
        "from aiokafka import AIOKafkaProducer as Producer\n"
        "Producer(bootstrap_servers='x')\n"
        "aiokafka.AIOKafkaConsumer('t')\n"
        "kadmin.AIOKafkaAdminClient()\n"
    )
    assert _constructions(sample) == [
        (4, "aiokafka.AIOKafkaProducer"),
        (5, "aiokafka.AIOKafkaConsumer"),
        (6, "aiokafka.admin.AIOKafkaAdminClient"),
    ]


def test_no_producer_overrides_compression_or_idempotence() -> None:
    """``TRADELANE_KAFKA_COMPRESSION`` and ``TRADELANE_KAFKA_IDEMPOTENCE`` reach every
    producer: no call site replaces them (but the named benchmark's idempotence)."""
    offenders = []
    for path in _sources():
        where = str(path.relative_to(ROOT))
        for name, call in _calls(path):
            if name not in {"transport.kafka.producer", "transport.kafka.producer_options"}:
                continue
            for keyword in call.keywords:
                if keyword.arg == "compression_type" or (
                    keyword.arg == "enable_idempotence" and where not in IDEMPOTENCE_OFF
                ):
                    offenders.append(f"{where}:{call.lineno} overrides {keyword.arg}")
    assert not offenders, offenders


def test_the_worker_faust_app_takes_its_broker_settings_from_the_module() -> None:
    apps = [
        (path, call) for path in _sources() for name, call in _calls(path) if name == "faust.App"
    ]
    assert apps, "the worker's faust app was not found"
    for path, call in apps:
        spread = [k.value for k in call.keywords if k.arg is None]
        assert any(
            isinstance(v, ast.Call) and ast.unparse(v.func).endswith("faust_options")
            for v in spread
        ), f"{path.relative_to(ROOT)}:{call.lineno} builds faust.App without faust_options"


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "gzip", "lz4", "zstd", "snappy"])
@pytest.mark.parametrize("idempotence", [True, False])
def test_producer_options_carry_compression_and_idempotence(
    compression: Any, idempotence: bool
) -> None:
    settings = KafkaSettings(
        bootstrap_servers="k1:9092,k2:9092",
        client_id="tl",
        compression=compression,
        idempotence=idempotence,
    )
    options = clients.producer_options(settings)
    assert options["compression_type"] == (None if compression == "none" else compression)
    assert options["enable_idempotence"] is idempotence
    assert options["acks"] == "all"
    assert (options["bootstrap_servers"], options["client_id"]) == ("k1:9092,k2:9092", "tl")


def test_overrides_win() -> None:
    settings = KafkaSettings(compression="zstd", idempotence=True)
    producer = clients.producer_options(
        settings, linger_ms=0, enable_idempotence=False, client_id="bench"
    )
    assert (producer["linger_ms"], producer["enable_idempotence"]) == (0, False)
    assert (producer["client_id"], producer["compression_type"]) == ("bench", "zstd")
    consumer = clients.consumer_options(
        settings, auto_offset_reset="latest", group_id="g", enable_auto_commit=True
    )
    assert consumer["auto_offset_reset"] == "latest"
    assert (consumer["group_id"], consumer["enable_auto_commit"]) == ("g", True)
    admin = clients.admin_options(settings, request_timeout_ms=3000)
    assert admin["request_timeout_ms"] == 3000


def test_consumer_defaults_commit_nothing_by_themselves() -> None:
    options = clients.consumer_options(KafkaSettings())
    assert options["enable_auto_commit"] is False
    assert options["auto_offset_reset"] == "earliest"


def test_faust_options() -> None:
    options = clients.faust_options(
        KafkaSettings(bootstrap_servers="k1:1,k2:2", compression="gzip")
    )
    assert options["broker"] == "kafka://k1:1;k2:2"
    assert options["producer_acks"] == -1
    assert options["producer_compression_type"] == "gzip"


async def test_factories_build_aiokafka_clients_with_those_options() -> None:
    """Every option is a keyword aiokafka accepts (building connects to nothing)."""
    settings = KafkaSettings(compression="gzip", idempotence=True)
    producer = clients.producer(settings, linger_ms=0)
    consumer = clients.consumer(settings, "t", group_id="g")
    admin = clients.admin(settings)
    try:
        assert isinstance(producer, AIOKafkaProducer)
        assert isinstance(consumer, AIOKafkaConsumer)
        assert isinstance(admin, AIOKafkaAdminClient)
        assert producer._compression_type == "gzip"
        assert producer._txn_manager is not None  # idempotent
        assert consumer._group_id == "g"
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


# --- start-up against a broker that is not ready ---------------------------------------------


class FakeClient:
    """A client whose ``start`` fails with the given errors, one per attempt."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


async def test_started_retries_with_a_fresh_client_and_says_what_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[Exception] = [KafkaConnectionError("refused"), UnknownTopicOrPartitionError()]
    made: list[FakeClient] = []

    def make() -> FakeClient:
        made.append(FakeClient(errors))
        return made[-1]

    with caplog.at_level(logging.WARNING, logger="transport.kafka"):
        client = await clients.started(make, "the sink's consumer", deadline_s=10)
    assert client is made[-1]
    assert client.started
    assert len(made) == 3
    assert [c.stopped for c in made] == [True, True, False]
    waits = [r.getMessage() for r in caplog.records]
    assert len(waits) == 2
    assert all(m.startswith("starting the sink's consumer: waiting for Kafka") for m in waits)


async def test_started_gives_up_after_the_deadline_with_a_clear_error() -> None:
    def make() -> FakeClient:
        return FakeClient([KafkaConnectionError("Unable to bootstrap from k:1")])

    with pytest.raises(clients.KafkaNotReadyError) as caught:
        await clients.started(make, "bridge b1's producer", deadline_s=0.05)
    message = str(caught.value)
    assert message.startswith("starting bridge b1's producer: Kafka still not ready after 0 s")
    assert "Unable to bootstrap from k:1" in message
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, ServiceError)  # the CLI prints it as an error, exit 2


@pytest.mark.parametrize("error", [UnrecognizedBrokerVersion(), TopicAuthorizationFailedError()])
async def test_errors_that_are_not_retriable_are_raised_at_once(error: Exception) -> None:
    made: list[FakeClient] = []

    def make() -> FakeClient:
        made.append(FakeClient([error]))
        return made[-1]

    with pytest.raises(type(error)):
        await clients.started(make, "a consumer", deadline_s=10)
    assert len(made) == 1
    assert made[0].stopped


class FakeCluster:
    def __init__(self, appears_after: int) -> None:
        self.lookups = 0
        self.appears_after = appears_after
        self.unauthorized_topics: set[str] = set()

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        self.lookups += 1
        return {0, 1, 2} if self.lookups > self.appears_after else None


class FakeKafkaClient:
    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.topics: set[str] = set()

    async def add_topic(self, topic: str) -> None:
        self.topics.add(topic)

    async def force_metadata_update(self) -> bool:
        return True


class FakeConsumer:
    def __init__(self, cluster: FakeCluster) -> None:
        self._client = FakeKafkaClient(cluster)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        """As aiokafka's consumer: what its client's metadata knows."""
        return self._client.cluster.partitions_for_topic(topic)


async def test_partitions_wait_for_a_topic_to_be_created(caplog: pytest.LogCaptureFixture) -> None:
    consumer = FakeConsumer(FakeCluster(appears_after=4))
    with caplog.at_level(logging.WARNING, logger="transport.kafka"):
        found = await clients.partitions(consumer, "tracker.readings", deadline_s=10)
    assert found == {0, 1, 2}
    assert consumer._client.topics == {"tracker.readings"}
    assert caplog.records
    assert "finding topic tracker.readings: waiting for Kafka" in caplog.records[0].getMessage()


async def test_partitions_of_a_topic_never_created_end_with_a_clear_error() -> None:
    consumer = FakeConsumer(FakeCluster(appears_after=10**6))
    with pytest.raises(clients.KafkaNotReadyError, match="finding topic t1: Kafka still not"):
        await clients.partitions(consumer, "t1", deadline_s=0.05)


async def test_partitions_of_a_forbidden_topic_fail_at_once() -> None:
    cluster = FakeCluster(appears_after=10**6)
    cluster.unauthorized_topics.add("t1")
    with pytest.raises(TopicAuthorizationFailedError):
        await clients.partitions(FakeConsumer(cluster), "t1", deadline_s=10)


@pytest.mark.parametrize(
    ("command", "waited_for"),
    [
        (["worker", "--app-id", "tradelane-streams-t-deadline"], "listing consumer groups"),
        (["bridge", "--metrics-port", "-1", "--stats-interval", "0"], "starting bridge "),
        (["sink", "--stats-interval", "0"], "starting the sink's registry consumer"),
        (["webhooks", "--stats-interval", "0"], "creating topics"),
    ],
)
def test_a_process_gives_up_after_the_deadline_with_a_clear_error(
    command: list[str],
    waited_for: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TRADELANE_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("TRADELANE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")  # no keyring needed
    monkeypatch.setattr(clients, "BROKER_WAIT_S", 0.3)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"tradelane: error: {waited_for}" in err
    assert "Kafka still not ready after 0 s (KafkaConnectionError(" in err
