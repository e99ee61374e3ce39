"""A load generator's MQTT publisher: pre-encoded MQTT 3.1.1 PUBLISH packets at QoS 1.

``tradelane bench pipeline`` plays thousands of trackers on the same two cores as the chain it
measures. With paho (a Python object, a packet and a PUBACK callback per message, in its own
thread) the publisher took 75 % of a core at 3,000 readings/s and fell behind, and its own
queue then showed up as pipeline latency. This writes each reading as a ready-made packet into
one buffered socket and lets the broker's PUBACKs drain in the background: a few microseconds
a reading. Only what a load generator needs: one connection, clean session, no keepalive
(the broker never drops it for silence), QoS 1, username/password and TLS from the settings.
The product's own clients (simulator, bridge) use paho.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct

from tradelane.principals import MQTT_GATEWAY as GATEWAY
from tradelane.settings import MqttSettings

CONNECT, CONNACK, PUBLISH_QOS1, PUBACK = 0x10, 0x20, 0x32, 0x40


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer (1-4 bytes, 7 bits each, low first)."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    flags = 0x02  # clean session
    payload = _string(client_id.encode())
    if username is not None:
        flags |= 0x80
        payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
    variable = _string(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 0)  # keepalive off
    body = variable + payload
    return bytes([CONNECT]) + remaining_length(len(body)) + body


def publish_packet(topic: str, packet_id: int, payload: bytes) -> bytes:
    body = _string(topic.encode()) + struct.pack("!H", packet_id) + payload
    return bytes([PUBLISH_QOS1]) + remaining_length(len(body)) + body


class LoadPublisher:
    """Publishes at QoS 1 through one connection; :meth:`publish` only buffers, :meth:`drain`
    hands the buffer to the kernel (and waits while the broker is slower than the load)."""

    def __init__(self, settings: MqttSettings, client_id: str) -> None:
        # one connection publishing for many trackers: a gateway, unless a user is configured
        self.settings = settings.as_principal(GATEWAY)
        self.client_id = client_id
        self.sent = 0
        self.acked = 0
        self._next_id = 0
        self._writer: asyncio.StreamWriter | None = None
        self._acks: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        s = self.settings
        context = (
            ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
            if s.tls
            else None
        )
        reader, writer = await asyncio.open_connection(s.host, s.port, ssl=context)
        username, password = s.login() or (None, None)
        writer.write(connect_packet(self.client_id, username, password))
        await writer.drain()
        ack = await asyncio.wait_for(reader.readexactly(4), 10)
        if ack[0] != CONNACK or ack[3] != 0:
            writer.close()
            raise ConnectionError(f"MQTT broker refused the load publisher: CONNACK {ack.hex()}")
        self._writer = writer
        self._acks = asyncio.create_task(self._count_acks(reader))

    def publish(self, topic: str, payload: bytes) -> None:
        assert self._writer is not None, "connect() first"
        self._next_id = self._next_id % 65535 + 1
        self._writer.write(publish_packet(topic, self._next_id, payload))
        self.sent += 1

    async def drain(self) -> None:
        assert self._writer is not None
        await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(ConnectionError):
                self._writer.write(b"\xe0\x00")  # DISCONNECT
                await self._writer.drain()
            self._writer.close()
        if self._acks is not None:
            self._acks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acks

    async def _count_acks(self, reader: asyncio.StreamReader) -> None:
        """PUBACKs are four bytes each (the broker sends nothing else to this client)."""
        pending = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            pending += chunk
            whole = len(pending) - len(pending) % 4
            self.acked += whole // 4
            pending = pending[whole:]
