"""Finance data the read model does not hold: a facility's ledger and its funding calendar.

Both are read on request from Kafka by the finance package's own readers (the ledger store
and the state rebuild), so the API shows exactly what ``tradelane ledger`` and ``tradelane
finance calendar`` show, verified the same way.
"""

from __future__ import annotations

from datetime import datetime

from api.models import CalendarLineOut, CalendarOut, LedgerOut
from finance.calendar import funding_calendar
from finance.ledger import verify
from finance.ledger_store import LedgerStore
from finance.rebuild import rebuild_state
from tradelane.settings import KafkaSettings


class FinanceReads:
    """Ledger and calendar of one facility, read from Kafka when asked."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings

    async def ledger(self, facility_id: str) -> LedgerOut:
        stored = await LedgerStore(self.settings).read(facility_id)
        result = verify(facility_id, stored.entries)
        return LedgerOut(
            facility_id=facility_id,
            entries=list(stored.entries),
            unreadable=len(stored.unreadable),
            verified=not result.problems and not stored.unreadable,
            head_hash=result.head_hash,
        )

    async def calendar(self, facility_id: str, start: datetime, days: int) -> CalendarOut:
        state = await rebuild_state(self.settings, facility_id)
        cal = funding_calendar(state, start, days=days)
        return CalendarOut(
            facility_id=cal.facility_id,
            currency=cal.currency,
            start=cal.start,
            end=cal.end,
            outstanding=str(cal.outstanding),
            base=str(cal.base),
            lines=[
                CalendarLineOut(
                    day=line.day,
                    kind=line.kind,
                    shipment_id=line.shipment_id,
                    milestone=line.milestone.value,
                    amount=None if line.amount is None else str(line.amount.amount),
                    overdue=line.overdue,
                )
                for line in cal.lines
            ],
        )
