"""MQTT publishing: paho clients driven by the asyncio loop, QoS 1, acks tracked per message.

Each :class:`Connection` is one paho client (MQTT 5) whose socket is watched by the running
event loop (paho's documented ``on_socket_*`` integration), so thousands of publishes per second
need no extra threads and the demo can run the fleet beside its other tasks. paho's own
in-flight limit is switched off (its bookkeeping is O(in-flight) per PUBACK) and replaced by a
per-connection window capped by the broker's Receive Maximum. "Sent" means PUBACKed with a
success reason code: the ledger hears about every ack through ``on_ack``.

Two modes (``--connection-mode``):

``per-device``  one connection per tracker: client id = device id, its own credentials, a
                retained last will ``DeviceStatus(offline)`` on its status topic and a retained
                ``online`` on connect. A tracker that dies drops its TCP connection without
                DISCONNECT, and the broker publishes the will: exactly what real devices do.
``shared``      trackers multiplexed over a few connections (gateways). One socket carries
                thousands of trackers, which is how one process reaches 10,000 readings/s; but
                a last will belongs to a connection, so the broker can only announce a dead
                *gateway* (``{prefix}-gw{k}``). A dead tracker's ``offline`` is published by
                the simulator on its behalf (same payload as the will), and a crash of the
                simulator leaves trackers ``online`` until the gateway's will.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt

from devices.config import ConnectionMode, FleetConfig
from devices.device import Tracker
from devices.messages import Kind, Outgoing
from tradelane.contracts import DeviceState, DeviceStatus
from tradelane.credentials import device_password
from tradelane.principals import MQTT_GATEWAY as GATEWAY
from tradelane.retry import retrying
from tradelane.settings import MqttSettings
from tradelane.topics import status_topic
from transport.mqtt import make_client

log = logging.getLogger(__name__)

AckCallback = Callable[[Outgoing, bool], None]
Provision = Callable[[MqttSettings, Sequence[str]], Awaitable[str]]
"""Lets a broker accept a fleet's device ids and returns the secret their passwords derive
from; the local services' version is :func:`devtools.provisioning.provision_local_fleet`."""


class Connection:
    """One MQTT connection on the running event loop."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        on_ack: AckCallback,
        *,
        window: int,
        mqtt5: bool = True,
        will: tuple[str, bytes] | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.settings = settings
        self.window = window
        self._on_ack = on_ack
        self._loop = asyncio.get_running_loop()
        self.client = make_client(settings, client_id, mqtt5=mqtt5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(0)  # we keep the window ourselves
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.pending: deque[Outgoing] = deque()
        self.inflight: dict[int, Outgoing] = {}
        self.connected = False
        self.killed = False
        self.closing = False
        self._close_when_drained = False
        self._kill_when_drained = False
        self._pump_scheduled = False
        self._connected_fut: asyncio.Future[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._reconnecting: asyncio.Task[None] | None = None
        c = self.client
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        c.on_socket_register_write = self._on_register_write
        c.on_socket_unregister_write = self._on_unregister_write
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish

    # --- asyncio <-> paho socket integration ----------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.add_reader(sock, client.loop_read)

    def _on_socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _on_register_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.add_writer(sock, client.loop_write)

    def _on_unregister_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    # --- paho callbacks -------------------------------------------------------------------

    def _on_connect(
        self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, properties: Any
    ) -> None:
        fut = self._connected_fut
        if getattr(reason, "is_failure", False):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError(f"{self.client_id}: broker refused: {reason}"))
            return
        receive_max = getattr(properties, "ReceiveMaximum", None) if properties else None
        if receive_max:
            self.window = max(1, min(self.window, int(receive_max)))
        self.connected = True
        if fut is not None and not fut.done():
            fut.set_result(None)
        self._schedule_pump()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self.connected = False
        if self.killed or self.closing:
            self._drained.set()
            return
        log.warning("%s disconnected (%s); reconnecting", self.client_id, reason)
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = self._loop.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        """Reconnect as a device would: after a first second, then with back-off doubling to
        30 s (:func:`tradelane.retry.retrying`, no deadline), until connected, killed or
        closed."""

        async def attempt() -> None:
            if not (self.killed or self.closing or self.connected):
                self.client.reconnect()

        def failed(exc: BaseException, pause_s: float) -> None:
            log.warning("%s reconnect failed (%s); retry in %.0fs", self.client_id, exc, pause_s)

        await asyncio.sleep(1.0)  # a device's pause before reconnecting, not a synchronisation
        await retrying(
            attempt,
            what=f"{self.client_id} reconnect",
            deadline_s=None,
            retriable=lambda exc: isinstance(exc, OSError),  # refused, unreachable, reset
            base_s=2.0,
            max_s=30.0,
            on_retry=failed,
        )

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        msg = self.inflight.pop(mid, None)
        if msg is not None:
            self._on_ack(msg, not getattr(reason, "is_failure", False))
        self._schedule_pump()

    # --- publishing -----------------------------------------------------------------------

    async def connect(self, timeout_s: float = 15.0) -> None:
        self._connected_fut = self._loop.create_future()
        self.client.connect(self.settings.host, self.settings.port, self.settings.keepalive_s)
        await asyncio.wait_for(self._connected_fut, timeout_s)

    def submit(self, msg: Outgoing) -> None:
        self.pending.append(msg)
        self._drained.clear()
        self._schedule_pump()

    def _schedule_pump(self) -> None:
        if not self._pump_scheduled:
            self._pump_scheduled = True
            self._loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        if not self.connected or self.killed:
            return
        pending, inflight, client = self.pending, self.inflight, self.client
        room = self.window - len(inflight)
        while room > 0 and pending:
            msg = pending.popleft()
            info = client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain)
            inflight[info.mid] = msg
            room -= 1
        if not pending and not inflight:
            self._drained.set()
            if self._kill_when_drained:
                self.kill()
            elif self._close_when_drained and not self.closing:
                self.closing = True
                client.disconnect()

    @property
    def backlog(self) -> int:
        return len(self.pending) + len(self.inflight)

    async def drained(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        return self._drained.is_set()

    def misc(self) -> None:
        """Keepalive pings and timeouts (paho's ``loop_misc``), called about once a second."""
        if self.connected and not self.killed:
            self.client.loop_misc()

    def close_when_drained(self) -> None:
        """Disconnect cleanly (no last will) once everything queued is acked."""
        self._close_when_drained = True
        self._schedule_pump()

    def kill_when_drained(self) -> None:
        """Die once what the device already sent is acked (it was sent before it died)."""
        self._kill_when_drained = True
        self._schedule_pump()

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker will publish the last will."""
        self.killed = True
        self._stop_reconnecting()
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # plain TCP or TLS (ssl.SSLSocket is a subclass)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.pending.clear()
        self._drained.set()

    def _stop_reconnecting(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()

    def close(self) -> None:
        if self.killed or self.closing:
            return
        self.closing = True
        self._stop_reconnecting()
        if self.connected:
            self.client.disconnect()
        else:
            with contextlib.suppress(Exception):
                self.client.loop_stop()


class FleetPublisher:
    """Routes the engine's messages to connections, per the connection mode."""

    def __init__(
        self,
        config: FleetConfig,
        settings: MqttSettings,
        trackers: list[Tracker],
        on_ack: AckCallback,
        *,
        mqtt5: bool = True,
        provision: Provision | None = None,
    ) -> None:
        self.config = config
        self._provision = provision
        self.settings = settings
        self.trackers = trackers
        self.mode = config.connection_mode
        self.mqtt5 = mqtt5
        self._on_ack = on_ack
        self.connections: list[Connection] = []
        self._route: list[int] = []
        self._misc_task: asyncio.Task[None] | None = None

    def _will(self, tracker: Tracker) -> tuple[str, bytes]:
        return tracker.status_topic, tracker.status_payload(online=False, ts=None)

    async def _fleet_secret(self) -> str | None:
        """The secret each device's password derives from: the configured one, or (logging in
        through the local keyring) the machine's fleet secret, after letting the local broker
        accept this fleet. None when the settings name one login for every connection."""
        if self.config.device_secret:
            return self.config.device_secret
        s = self.settings
        if s.username is not None or s.anonymous or s.cert_file is not None:
            return None
        if self._provision is None:
            return None
        ids = [tr.spec.device_id for tr in self.trackers]
        return await self._provision(s, ids)

    def gateway_id(self, k: int) -> str:
        return f"{self.config.id_prefix}-gw{k}"

    async def start(self, sim_now: Callable[[], float]) -> None:
        """Connect every connection and announce every tracker ``online`` (retained)."""
        cfg = self.config
        if self.mode is ConnectionMode.PER_DEVICE:
            secret = await self._fleet_secret()
            for tr in self.trackers:
                user = password = None  # None: the settings' own login (explicit or anonymous)
                if secret:
                    user = tr.spec.device_id
                    password = device_password(secret, tr.spec.device_id)
                self.connections.append(
                    Connection(
                        self.settings,
                        tr.spec.device_id,
                        self._on_ack,
                        window=cfg.window,
                        mqtt5=self.mqtt5,
                        will=self._will(tr),
                        username=user,
                        password=password,
                    )
                )
            self._route = list(range(len(self.trackers)))
        else:
            count = min(cfg.connections, len(self.trackers))
            for k in range(count):
                gw = self.gateway_id(k)
                will = (
                    status_topic(gw),
                    DeviceStatus(device_id=gw, state=DeviceState.OFFLINE)
                    .model_dump_json()
                    .encode(),
                )
                self.connections.append(
                    Connection(
                        self.settings.as_principal(GATEWAY),
                        gw,
                        self._on_ack,
                        window=cfg.window,
                        mqtt5=self.mqtt5,
                        will=will,
                    )
                )
            self._route = [i % count for i in range(len(self.trackers))]
        await asyncio.gather(*(c.connect() for c in self.connections))
        self._misc_task = asyncio.create_task(self._misc_loop())
        if cfg.status_messages:
            now = sim_now()
            for tr in self.trackers:
                self.submit(
                    [
                        Outgoing(
                            Kind.STATUS,
                            tr.index,
                            -1,
                            tr.status_topic,
                            tr.status_payload(online=True, ts=now),
                            retain=True,
                        )
                    ]
                )

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for conn in self.connections:
                conn.misc()

    def submit(self, msgs: list[Outgoing]) -> None:
        route, conns, trackers = self._route, self.connections, self.trackers
        for msg in msgs:
            kind = msg.kind
            conn = conns[route[msg.device]]
            if kind is Kind.DIED:
                if self.mode is ConnectionMode.PER_DEVICE:
                    conn.kill_when_drained()
                elif self.config.status_messages:  # emulate the will the broker cannot send
                    tr = trackers[msg.device]
                    topic, payload = self._will(tr)
                    conn.submit(Outgoing(Kind.STATUS, msg.device, -1, topic, payload, True))
            elif kind is Kind.RETIRED:
                if self.config.status_messages:
                    tr = trackers[msg.device]
                    conn.submit(
                        Outgoing(
                            Kind.STATUS,
                            msg.device,
                            -1,
                            tr.status_topic,
                            tr.status_payload(online=False, ts=tr.retired_at),
                            True,
                        )
                    )
                if self.mode is ConnectionMode.PER_DEVICE:
                    conn.close_when_drained()
            elif not conn.killed:
                conn.submit(msg)

    def device_online(self, index: int) -> bool:
        conn = self.connections[self._route[index]]
        return conn.connected and not conn.killed

    @property
    def backlog(self) -> int:
        return sum(c.backlog for c in self.connections)

    async def drain(self, timeout_s: float) -> bool:
        results = await asyncio.gather(*(c.drained(timeout_s) for c in self.connections))
        return all(results)

    async def say_goodbye(self, sim_now: float, timeout_s: float = 10.0) -> None:
        """End of run: every tracker still running announces ``offline``, then disconnect."""
        if self.config.status_messages:
            goodbye = [
                Outgoing(
                    Kind.STATUS,
                    tr.index,
                    -1,
                    tr.status_topic,
                    tr.status_payload(online=False, ts=sim_now),
                    retain=True,
                )
                for tr in self.trackers
                if tr.alive
            ]
            self.submit(goodbye)
        await self.drain(timeout_s)

    async def close(self) -> None:
        if self._misc_task is not None:
            self._misc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc_task
        for conn in self.connections:
            conn.close()
        # Let the DISCONNECT packets go out before the sockets are dropped.
        for _ in range(50):
            if all(not c.connected or c.killed for c in self.connections):
                break
            await asyncio.sleep(0.02)
