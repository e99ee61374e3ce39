"""The Mosquitto crash window, measured (``tradelane faults --mosquitto-crash N``).

Mosquitto keeps persistent sessions and their queued QoS 1 messages in memory and writes them
to disk every ``autosave_interval`` seconds (5 in config/mosquitto/mosquitto.conf) and on a
clean shutdown. A crash loses what it acknowledged since the last save. Each trial measures
that: a persistent subscriber session is created and saved (by a clean restart), the
subscriber goes away, a publisher sends QoS 1 messages for a seeded number of seconds, the
broker is SIGKILLed, started again, and the subscriber comes back for its queue. Every message
the broker acknowledged but did not deliver afterwards was lost; the oldest one's age at the
crash is the loss window."""

from __future__ import annotations

import os
import random
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devtools.services.mosquitto import Mosquitto
from devtools.services.process import ServiceError, pid_alive
from tradelane.settings import MqttSettings, ServicesSettings
from transport.mqtt import make_client

RATE_PER_S = 500
QUIET_S = 3.0


@dataclass(frozen=True, slots=True)
class Trial:
    published_s: float
    acknowledged: int
    lost: int
    oldest_lost_age_s: float | None
    """How long before the crash the oldest lost message was acknowledged."""


def _connect(settings: MqttSettings, client_id: str, clean: bool) -> Client:
    client = make_client(settings, client_id)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(settings.host, settings.port, clean_start=clean, properties=props)
    client.loop_start()
    return client


def _close(client: Client) -> None:
    client.disconnect()
    client.loop_stop()


def _reap(pid: int) -> None:
    """Wait for the killed broker to be gone (and reap it when this process started it, as
    ``service.up`` here does, so its pid is not taken for a live one)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # started by another process: wait for the pid to go
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # the kernel tearing the process down, under a deadline


def trial(settings: MqttSettings, service: Mosquitto, seconds: float) -> Trial:
    token = secrets.token_hex(4)
    topic = f"tradelane-crashprobe/{token}"
    subscriber_id = f"crashprobe-sub-{token}"
    subscribed = threading.Event()
    # Clean start off even for a new session: Mosquitto 2.0 does not save a session begun with
    # clean start on, whatever its expiry (the bridge connects the same way).
    sub = _connect(settings, subscriber_id, clean=False)
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.subscribe(topic, qos=1)
    if not subscribed.wait(10):
        raise ServiceError("the probe subscriber got no SUBACK in 10 s")
    _close(sub)
    service.down()  # a clean stop saves the session: only the messages below are at risk
    service.up()

    pub = _connect(settings, f"crashprobe-pub-{token}", clean=True)
    acked_at: dict[int, float] = {}
    mids: dict[int, int] = {}

    def on_publish(_c: Client, _u: object, mid: int, *_rest: object) -> None:
        if mid in mids:
            acked_at[mids[mid]] = time.monotonic()

    pub.on_publish = on_publish
    began = time.monotonic()
    n = 0
    while time.monotonic() - began < seconds:
        info = pub.publish(topic, str(n).encode(), qos=1)
        mids[info.mid] = n
        n += 1
        time.sleep(1 / RATE_PER_S)  # the publisher's pace, not a synchronisation
    pid = service.process.pid()
    if pid is None:
        raise ServiceError("Mosquitto is not run by `tradelane services`; nothing to crash")
    crashed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    acked = dict(acked_at)
    pub.loop_stop()
    service.up()

    received: set[int] = set()
    last = [time.monotonic()]

    def on_message(_c: Client, _u: object, msg: MQTTMessage) -> None:
        received.add(int(msg.payload))
        last[0] = time.monotonic()

    sub = make_client(settings, subscriber_id)
    sub.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    sub.connect(settings.host, settings.port, clean_start=False, properties=props)
    sub.loop_start()
    deadline = time.monotonic() + 60
    while time.monotonic() - last[0] < QUIET_S and time.monotonic() < deadline:
        time.sleep(0.1)  # collecting the queue until it goes quiet, under a deadline
    _close(sub)
    lost = [m for m in acked if m not in received]
    oldest = min((acked[m] for m in lost), default=None)
    return Trial(
        published_s=round(crashed - began, 2),
        acknowledged=len(acked),
        lost=len(lost),
        oldest_lost_age_s=None if oldest is None else round(crashed - oldest, 2),
    )


def measure(trials: int, seed: int, progress: Callable[[str], None] = print) -> list[Trial]:
    """``trials`` crashes, each after a seeded 2-9 s of publishing."""
    rng = random.Random(seed)  # noqa: S311 - a schedule, not secrets
    settings = MqttSettings()
    service = Mosquitto(ServicesSettings())
    if not service.status().running:
        raise ServiceError("Mosquitto is not run by `tradelane services`; nothing to crash")
    out = []
    for i in range(trials):
        result = trial(settings, service, rng.uniform(2.0, 9.0))
        progress(f"  trial {i + 1}: {result.lost:,} of {result.acknowledged:,} lost")
        out.append(result)
    return out
