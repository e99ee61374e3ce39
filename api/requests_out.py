"""Where the API puts what a borrower or bank asks of a facility's engine: ``finance.requests``.

The API decides nothing about money: it checks who is asking (the key's role and party, and
that it may see the facility), wraps the request in an envelope whose id derives from the
request id, and waits for Kafka's acknowledgement. The worker's pledge stage reads the topic
as requests only and the engine applies each request id once (:mod:`finance.tranche_decisions`).
:class:`RequestSink` keeps requests in memory (unit tests); :class:`KafkaRequestSink` is the
shell the server uses.
"""

from __future__ import annotations

from tradelane.contracts import FinanceRequest
from tradelane.contracts.finance import FinanceRequestData
from tradelane.ids import derive_id
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_REQUESTS
from transport import kafka as clients

SOURCE = "/tradelane/api"


def envelope(data: FinanceRequestData) -> FinanceRequest:
    """The request as it travels: id from the request id, so a resent click is one record's
    duplicate, not a second request."""
    return FinanceRequest(
        id=derive_id("finance_request", data.facility_id, data.request_id),
        source=SOURCE,
        type=f"tradelane.finance.request.{data.kind}.v1",
        subject=data.facility_id,
        time=data.at,
        data=data,
    )


class RequestSink:
    """Requests kept in memory, in the order sent (tests)."""

    def __init__(self) -> None:
        self.sent: list[FinanceRequest] = []

    async def send(self, data: FinanceRequestData) -> FinanceRequest:
        request = envelope(data)
        self.sent.append(request)
        return request

    async def close(self) -> None:
        return None


class KafkaRequestSink(RequestSink):
    """Requests written to ``finance.requests``, keyed by facility (its partition holds the
    facility's other inputs' order)."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__()
        self.settings = settings
        self._producer = clients.LazyProducer(settings)

    async def send(self, data: FinanceRequestData) -> FinanceRequest:
        request = envelope(data)
        await self._producer.send(
            FINANCE_REQUESTS.name, request.model_dump_json().encode(), data.facility_id.encode()
        )
        return request

    async def close(self) -> None:
        await self._producer.close()
