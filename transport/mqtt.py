"""paho-mqtt client construction shared by the simulator, the bridge and the demo.

One place decides protocol version, credentials, TLS and reconnect back-off, so every client
in the system behaves the same towards the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tradelane.settings import MqttSettings

if TYPE_CHECKING:  # a typing-only protocol in paho
    from paho.mqtt.client import SocketLike


def make_client(
    settings: MqttSettings,
    client_id: str,
    *,
    mqtt5: bool = True,
    manual_ack: bool = False,
    persistent_session: bool = False,
) -> mqtt.Client:
    """A configured, not yet connected paho client (callback API v2).

    ``persistent_session`` matters for MQTT 3.1.1 only (clean session off); MQTT 5 clients
    choose clean start and session expiry when they connect.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
        clean_session=None if mqtt5 else not persistent_session,
    )
    login = settings.login()
    if login is not None:
        client.username_pw_set(*login)
    if settings.tls:
        client.tls_set(
            ca_certs=str(settings.ca_file) if settings.ca_file else None,
            certfile=str(settings.cert_file) if settings.cert_file else None,
            keyfile=str(settings.key_file) if settings.key_file else None,
        )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


class AsyncioLoopAdapter:
    """Drive a paho client from an asyncio event loop instead of paho's own thread.

    paho's threaded loop hands every message to another thread, which on a busy bridge costs
    more than the message itself (a wake-up per message and GIL hand-offs). Here the client's
    socket is watched by the event loop (paho's documented external-loop hooks:
    ``on_socket_open`` / ``on_socket_register_write`` / ``loop_read`` / ``loop_write`` /
    ``loop_misc``), so callbacks run on the loop thread and can touch asyncio objects directly.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, client: mqtt.Client) -> None:
        self.loop = loop
        self.client = client
        self._misc: asyncio.Task[None] | None = None
        self.max_packets_per_read = 256
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    def _on_socket_open(self, client: mqtt.Client, _userdata: object, sock: SocketLike) -> None:
        self.loop.add_reader(sock, self._read)
        self._misc = self.loop.create_task(self._misc_loop())

    def _read(self) -> None:
        """Read every complete packet that is waiting, not just one per loop iteration.

        paho's ``loop_read`` reads one packet per call for QoS 0/1 traffic and reports success
        whether or not a packet arrived; the socket's buffered byte count tells us when to stop.
        """
        sock = self.client.socket()
        for _ in range(self.max_packets_per_read):
            if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS or sock is None:
                return
            try:
                waiting = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # type: ignore[call-arg]
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not waiting:
                return

    def _on_socket_close(self, _client: mqtt.Client, _userdata: object, sock: SocketLike) -> None:
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)

    def _on_register_write(self, client: mqtt.Client, _userdata: object, sock: SocketLike) -> None:
        self.loop.add_writer(sock, client.loop_write)

    def _on_unregister_write(self, _c: mqtt.Client, _userdata: object, sock: SocketLike) -> None:
        self.loop.remove_writer(sock)

    async def _misc_loop(self) -> None:
        """Keepalive pings and retries: what paho's thread would do once a second."""
        while self.client.loop_misc() == mqtt.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 - a ticker
            await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._misc is not None:
            self._misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc


def forget_session(
    settings: MqttSettings, client_id: str, *, mqtt5: bool = True, timeout_s: float = 10.0
) -> None:
    """Delete a persistent session on the broker: connect once with clean start and no expiry.

    A persistent session outlives its client; in a shared-subscription group it keeps taking
    its share of messages into a queue nobody reads. Retire a bridge, and clean up after tests,
    with this.
    """
    import threading

    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    connected = threading.Event()
    client = make_client(settings, client_id, mqtt5=mqtt5)
    client.on_connect = lambda *_args: connected.set()
    if mqtt5:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0
        client.connect(settings.host, settings.port, clean_start=True, properties=props)
    else:
        client.connect(settings.host, settings.port)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise TimeoutError(f"no CONNACK from {settings.url} in {timeout_s:.0f}s")
    finally:
        client.disconnect()
        client.loop_stop()
