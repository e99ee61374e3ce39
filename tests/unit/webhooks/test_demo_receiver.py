"""The demo's receiver reports a verified delivery once, and refuses a tampered one."""

from __future__ import annotations

import json
import time

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from webhooks.demo import DemoReceiver
from webhooks.signing import new_secret, sign_headers


async def test_reports_verified_deliveries_once_and_refuses_tampering() -> None:
    secret = new_secret()
    lines: list[str] = []
    receiver = DemoReceiver(secret, lines.append)
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    body = json.dumps(
        {"type": "tradelane.finance.drawdown_executed.v1", "subject": "fac-1"}
    ).encode()
    headers = sign_headers([secret], "msg_1", int(time.time()), body)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for _ in range(2):
            assert (await client.post("/hooks", data=body, headers=headers)).status == 204
        tampered = await client.post("/hooks", data=body + b" ", headers=headers)
        assert tampered.status == 401
    assert receiver.verified == 1
    assert receiver.refused == 1
    assert "drawdown_executed.v1 fac-1 (JSON) signature verified" in lines[0]
