"""The one place Kafka clients are built and started, so every process gets the same settings
and waits the same way for a broker that is still starting.

Options (``overrides`` win in each):

- producers: ``acks=all``, idempotence and compression from :class:`KafkaSettings`, a short
  linger and large batches (a few milliseconds of linger turn thousands of tiny requests into
  a few large ones, which is where a co-located broker spends its CPU);
- consumers: no auto-commit (every process commits only what it has durably handled),
  ``read_committed`` (a fenced worker's aborted writes are never seen), start at the earliest
  offset when a group has none, large fetches;
- admin clients and the worker's faust app: the same servers and client id.

Start-up: :func:`started` builds a client and starts it, retrying while Kafka refuses
connections or answers with a retriable error (a fresh or restarting broker has no group
coordinator or partition leaders for a few seconds), with a log line naming what waits, and
gives up after ``deadline_s`` with :class:`KafkaNotReadyError`. :func:`partitions` waits the
same way for a topic that has not been created yet. No module outside this one constructs an
aiokafka client (a unit test holds every other module to it).

Reading: a reader that assigns its partitions itself positions them (:func:`rewind`,
:func:`fast_forward` or a seek), then :func:`read_to_end` reads them to the ends they had
(:func:`caught_up` says whether it got there), :func:`follow` does that, sets a ``ready`` event
and keeps reading until stopped, and :func:`bounded_read` collects the records up to the ends
and stops. They use aiokafka's public consumer calls only (``getmany``, ``position``,
``end_offsets``, ``seek``), so ``tests/doubles/kafka.py`` stands in for a consumer in unit tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from aiokafka.helpers import create_ssl_context

from tradelane import retry
from tradelane.settings import KafkaSettings

log = logging.getLogger(__name__)

LINGER_MS = 5
"""Producer linger: the latency a record may wait for others to share its request."""
BATCH_BYTES = 512 * 1024
"""Largest producer batch per partition."""
BROKER_WAIT_S = 120.0
"""How long a process keeps retrying a broker that is starting or restarting."""

T = TypeVar("T")


class KafkaNotReadyError(retry.RetryDeadlineError):
    """Kafka still refused or answered with retriable errors when the deadline passed."""


# --- options and factories -------------------------------------------------------------------


def security_options(settings: KafkaSettings) -> dict[str, Any]:
    """How a client proves who it is: SASL/SCRAM with the settings' login, over TLS for
    ``SASL_SSL`` (the CA from ``ssl_cafile``, else the system's)."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    login = settings.login()
    if login is not None:
        options |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": login[0],
            "sasl_plain_password": login[1],
        }
    if settings.security_protocol == "SASL_SSL":
        options["ssl_context"] = create_ssl_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
    return options


def producer_options(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of every ``AIOKafkaProducer`` (``overrides`` win)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": settings.idempotence,
        "compression_type": settings.compression_type,
        "linger_ms": LINGER_MS,
        "max_batch_size": BATCH_BYTES,
        "max_request_size": 4 * 1024 * 1024,
    }
    return options | security_options(settings) | overrides


def consumer_options(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of every ``AIOKafkaConsumer`` (``overrides`` win)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "enable_auto_commit": False,
        # worker loops write in transactions: nothing of an aborted one (a fenced worker's
        # last writes) is ever read
        "isolation_level": "read_committed",
        "auto_offset_reset": "earliest",
        "fetch_max_bytes": 32 * 1024 * 1024,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
    return options | security_options(settings) | overrides


def admin_options(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """The keyword arguments of every ``AIOKafkaAdminClient`` (``overrides`` win)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
    }
    return options | security_options(settings) | overrides


def faust_options(settings: KafkaSettings) -> dict[str, Any]:
    """The broker settings of the worker's faust app (its own clients: acks from all
    replicas, the producers' compression and linger)."""
    options: dict[str, Any] = {
        "broker": settings.faust_broker,
        "producer_acks": -1,
        "producer_compression_type": settings.compression_type,
        "producer_linger": LINGER_MS / 1000,
    }
    login = settings.login()
    if login is not None:
        import faust  # here: only the worker pays for importing faust

        security = security_options(settings)
        options["broker_credentials"] = faust.SASLCredentials(
            username=login[0],
            password=login[1],
            mechanism=settings.sasl_mechanism,
            ssl_context=security.get("ssl_context"),
        )
    return options


def producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_options(settings, **overrides))


class LazyProducer:
    """A producer started on first use and stopped at most once, for a service that writes
    now and then (the API's stores and requests): a process that never writes never connects."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def send(self, topic: str, value: bytes | None, key: bytes) -> None:
        """Send one record and wait for Kafka's acknowledgement."""
        async with self._lock:
            if self._producer is None:
                started = producer(self.settings)
                await started.start()
                self._producer = started
        await self._producer.send_and_wait(topic, value, key=key)

    async def close(self) -> None:
        async with self._lock:
            held, self._producer = self._producer, None
        if held is not None:
            with contextlib.suppress(Exception):
                await held.stop()


def consumer(settings: KafkaSettings, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **consumer_options(settings, **overrides))


ConsumerFactory = Callable[..., AIOKafkaConsumer]
"""Builds a consumer from ``(settings, *topics, **overrides)``: :func:`consumer`, or a test
double's."""
ProducerFactory = Callable[..., AIOKafkaProducer]
"""Builds a producer from ``(settings, **overrides)``: :func:`producer`, or a test double's."""


async def started_reader(
    settings: KafkaSettings, role: str, what: str, make: ConsumerFactory | None = None
) -> AIOKafkaConsumer:
    """A started consumer without a group, for partitions the caller assigns and seeks itself
    (a read model or registry follower), named ``{client_id}-{role}`` in the broker's logs.
    Where it starts is the caller's seek; ``latest`` only covers a partition it forgets.
    ``make`` builds it (default :func:`consumer`)."""
    build = make or consumer
    return await started(
        lambda: build(
            settings, client_id=f"{settings.client_id}-{role}", auto_offset_reset="latest"
        ),
        what,
    )


async def rewind(consumer: AIOKafkaConsumer, *tps: TopicPartition) -> dict[TopicPartition, int]:
    """Position ``tps`` at the first offset their logs still hold, and return those offsets.

    Not ``seek_to_beginning``: that only asks the fetcher for a reset, and a reset it already
    had in flight for a freshly assigned partition (with ``auto_offset_reset="latest"``, as
    every reader that seeks itself is made) answers the request with the *latest* offset, so
    the read silently starts at the end: a ledger read without its checkpoints, a changelog
    restored empty. An explicit offset cannot be overtaken that way."""
    starts: dict[TopicPartition, int] = await consumer.beginning_offsets(list(tps))
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    return starts


async def fast_forward(
    consumer: AIOKafkaConsumer, *tps: TopicPartition
) -> dict[TopicPartition, int]:
    """Position ``tps`` at their current ends (explicitly, see :func:`rewind`)."""
    ends: dict[TopicPartition, int] = await consumer.end_offsets(list(tps))
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    return ends


# --- reading assigned partitions --------------------------------------------------------------

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Batches: TypeAlias = "dict[TopicPartition, list[Record]]"
OnBatches = Callable[[Batches], Awaitable[None]]
"""What a reader does with one fetch: every partition's records of one ``getmany``."""


async def caught_up(consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]) -> bool:
    """Whether the consumer's position reached ``ends`` in every partition named there."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def read_to_end(
    consumer: AIOKafkaConsumer,
    ends: Mapping[TopicPartition, int],
    on_batches: OnBatches,
    stop: asyncio.Event | None = None,
    timeout_ms: int = 500,
    max_records: int | None = None,
) -> None:
    """Fetch and hand every fetch to ``on_batches`` until the consumer reached ``ends`` (as
    :func:`caught_up` says, asked before each fetch) or ``stop`` is set. What one fetch
    returned past an end is handed over too: a follower wants it, a bounded read filters."""
    while not await caught_up(consumer, ends):
        if stop is not None and stop.is_set():
            return
        await on_batches(await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records))


async def follow(
    consumer: AIOKafkaConsumer,
    on_batches: OnBatches,
    stop: asyncio.Event | None = None,
    ends: Mapping[TopicPartition, int] | None = None,
    ready: asyncio.Event | None = None,
    timeout_ms: int = 500,
    max_records: int | None = None,
) -> None:
    """:func:`read_to_end` of ``ends`` (if given), then set ``ready`` (if given and not
    stopped first), then keep handing fetches to ``on_batches`` until ``stop`` (forever
    without one): the "load, say so, keep following" of every read model and registry."""
    if ends is not None:
        await read_to_end(consumer, ends, on_batches, stop, timeout_ms, max_records)
    if stop is not None and stop.is_set():
        return
    if ready is not None:
        ready.set()
    while stop is None or not stop.is_set():
        await on_batches(await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records))


async def bounded_read(
    consumer: AIOKafkaConsumer,
    tps: Iterable[TopicPartition],
    ends: Mapping[TopicPartition, int] | None = None,
    deadline_s: float | None = None,
    timeout_ms: int = 500,
    max_records: int | None = None,
) -> dict[TopicPartition, list[Record]]:
    """The records of ``tps`` from their positions (the caller's seek or rewind) up to
    ``ends`` (default: their ends now, the last stable offsets: committed transactions
    only), and no further; a partition already there is not fetched. Raises
    :class:`TimeoutError` if the ends are not reached within ``deadline_s``."""
    parts = list(tps)
    ends = dict(ends) if ends is not None else await consumer.end_offsets(parts)
    out: dict[TopicPartition, list[Record]] = {tp: [] for tp in parts}
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    pending = [tp for tp in parts if await consumer.position(tp) < ends[tp]]
    while pending:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"reading {pending} did not reach {ends} in time")
        fetched = await consumer.getmany(*pending, timeout_ms=timeout_ms, max_records=max_records)
        for tp, batch in fetched.items():
            out[tp] += [r for r in batch if r.offset < ends[tp]]
        pending = [tp for tp in pending if await consumer.position(tp) < ends[tp]]
    return out


def admin(settings: KafkaSettings, **overrides: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**admin_options(settings, **overrides))


# --- waiting for a starting broker -----------------------------------------------------------


def kafka_retriable(exc: BaseException) -> bool:
    """Whether waiting can help: Kafka refused the connection, or answered with an error
    aiokafka marks retriable (no coordinator or partition leader yet, a topic not created
    yet). A refused grant or an unsupported version is raised at once."""
    return isinstance(exc, KafkaConnectionError) or (
        isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))
    )


def _not_ready(what: str, deadline_s: float, exc: BaseException) -> BaseException:
    return KafkaNotReadyError(f"{what}: Kafka still not ready after {deadline_s:.0f} s ({exc!r})")


async def retrying(
    what: str, call: Callable[[], Awaitable[T]], deadline_s: float | None = None
) -> T:
    """``call()``, retried by :func:`tradelane.retry.retrying` while Kafka refuses
    connections or answers with a retriable error (:func:`kafka_retriable`), each retry logged
    as waiting for ``what``. Gives up after ``deadline_s`` (default :data:`BROKER_WAIT_S`)
    with :class:`KafkaNotReadyError` naming ``what`` and the last error; errors that are not
    retriable are raised at once."""

    def waiting(exc: BaseException, pause_s: float) -> None:
        log.warning("%s: waiting for Kafka (%r); retrying in %.1f s", what, exc, pause_s)

    return await retry.retrying(
        call,
        what=what,
        deadline_s=BROKER_WAIT_S if deadline_s is None else deadline_s,
        retriable=kafka_retriable,
        base_s=0.1,
        max_s=5.0,
        on_retry=waiting,
        give_up=_not_ready,
    )


class _Client(Protocol):
    async def start(self) -> None: ...


C = TypeVar("C", bound=_Client)


async def _close(client: Any) -> None:
    """Stop a producer or consumer, close an admin client; a half-started one too."""
    with contextlib.suppress(Exception):  # closing what failed to start may fail as well
        if isinstance(client, AIOKafkaAdminClient):
            await client.close()
        else:
            await client.stop()


async def started(make: Callable[[], C], what: str, deadline_s: float | None = None) -> C:
    """A client built by ``make()`` and started. While Kafka refuses connections or answers
    with a retriable error, the attempt's client is closed and a fresh one started after a
    backoff (aiokafka clients cannot be started twice), up to ``deadline_s``."""

    async def attempt() -> C:
        client = make()
        try:
            await client.start()
        except BaseException:
            await _close(client)
            raise
        return client

    return await retrying(f"starting {what}", attempt, deadline_s)


async def partitions(client: Any, topic: str, deadline_s: float | None = None) -> set[int]:
    """The partition ids of ``topic`` as a started producer or consumer sees them, waiting
    (up to ``deadline_s``) while the topic has not been created yet. What the client knows
    already comes from the consumer's public ``partitions_for_topic`` (a test double's too);
    only asking the broker again reaches into the client, aiokafka having no public call."""

    async def lookup() -> set[int]:
        found = _known_partitions(client, topic)
        if not found:
            found = await _refreshed_partitions(client, topic)
        return set(found)

    return await retrying(f"finding topic {topic}", lookup, deadline_s)


def _known_partitions(client: Any, topic: str) -> set[int] | None:
    if isinstance(client, AIOKafkaProducer):
        known: set[int] | None = client.client.cluster.partitions_for_topic(topic)
        return known
    return set(client.partitions_for_topic(topic) or ())


async def _refreshed_partitions(client: Any, topic: str) -> set[int]:
    """Track ``topic`` and update the metadata; raise while it has no partitions."""
    inner = client.client if isinstance(client, AIOKafkaProducer) else client._client
    await inner.add_topic(topic)  # tracked from now on, and a metadata update asked
    await inner.force_metadata_update()
    found: set[int] | None = inner.cluster.partitions_for_topic(topic)
    if topic in inner.cluster.unauthorized_topics:
        raise TopicAuthorizationFailedError(topic)
    if not found:
        raise UnknownTopicOrPartitionError(
            f"no topic {topic} yet (`tradelane topics create` or a worker creates it)"
        )
    return found
