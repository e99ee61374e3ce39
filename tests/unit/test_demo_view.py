"""The demo's picture (cli/demo_view.py) without Kafka: events shown in event-time
order whatever order they were consumed in, rows following each shipment's milestones, and the
closing summary computed from ledger entries and finance, claim and shipment events."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from cli.demo_feed import _last_line, synced_groups
from cli.demo_view import (
    DemoView,
    LedgerVerdict,
    PlainDisplay,
    ReorderBuffer,
    Summary,
    describe,
    render,
)
from tests.samples import booking
from tests.unit.api.records import (
    T0,
    base_changed,
    breach,
    claim_paid,
    claim_raised,
    departed,
    drawdown,
    drawdown_entry,
    silent,
)
from tradelane.contracts import (
    ClaimEvent,
    LedgerEntry,
    MilestoneReached,
    Money,
    ShipmentEvent,
    ShipmentStatus,
    TrackerReading,
)
from tradelane.contracts.events import Milestone
from tradelane.contracts.finance import (
    CollateralLine,
    DrawdownRejected,
    FinanceEvent,
    ResultCode,
)
from tradelane.contracts.seller import FundingReminder
from tradelane.ids import derive_id


def shipment_event(record: tuple[str, bytes]) -> ShipmentEvent:
    return ShipmentEvent.model_validate_json(record[1])


def finance_event(record: tuple[str, bytes]) -> FinanceEvent:
    return FinanceEvent.model_validate_json(record[1])


def milestone(
    shipment_id: str, which: Milestone, status: ShipmentStatus, hours: int
) -> ShipmentEvent:
    at = T0 + timedelta(hours=hours)
    return ShipmentEvent(
        id=derive_id("event", shipment_id, which.value),
        source="/tradelane/streams",
        type="tradelane.shipment.milestone_reached.v1",
        subject=shipment_id,
        time=at,
        data=MilestoneReached(milestone=which, at=at, status=status, in_spec=True),
    )


def rejected(facility_id: str, shipment_id: str, minutes: int) -> FinanceEvent:
    at = T0 + timedelta(minutes=minutes)
    return FinanceEvent(
        id=derive_id("fin", facility_id, shipment_id, "rejected"),
        source="/tradelane/finance",
        type="tradelane.finance.drawdown_rejected.v1",
        subject=facility_id,
        time=at,
        data=DrawdownRejected(
            facility_id=facility_id,
            shipment_id=shipment_id,
            milestone=Milestone.ARRIVED_DESTINATION,
            code=ResultCode.CARGO_IMPAIRED,
            at=at,
        ),
    )


def test_the_buffer_releases_by_event_time_once_held() -> None:
    buffer = ReorderBuffer(hold_s=2.0)
    late, early = (
        milestone("s1", Milestone.DELIVERED, ShipmentStatus.DELIVERED, 5),
        milestone("s2", Milestone.DEPARTED_ORIGIN, ShipmentStatus.IN_TRANSIT, 1),
    )
    buffer.offer(late.time, late, now=100.0)
    buffer.offer(early.time, early, now=101.0)  # consumed later, happened earlier
    assert buffer.due(101.5) == []  # nothing held 2 s yet
    assert buffer.due(102.0) == []  # the earliest (early) is not held long enough
    assert [e.subject for _, e in buffer.due(103.0)] == ["s2", "s1"]
    assert len(buffer) == 0


def test_events_consumed_across_partitions_are_shown_in_event_time_order() -> None:
    view = DemoView(hold_s=1.0)
    view.book(booking("s1", ["d1"]), pledged=True)
    view.book(booking("s2", ["d2"]), pledged=True)
    consumed = [  # as 2 partitions interleave them: s2's whole batch, then s1's
        milestone("s2", Milestone.DEPARTED_ORIGIN, ShipmentStatus.IN_TRANSIT, 3),
        milestone("s2", Milestone.ARRIVED_DESTINATION, ShipmentStatus.ARRIVED, 30),
        milestone("s1", Milestone.DEPARTED_ORIGIN, ShipmentStatus.IN_TRANSIT, 1),
        milestone("s1", Milestone.ARRIVED_DESTINATION, ShipmentStatus.ARRIVED, 20),
    ]
    for i, event in enumerate([*consumed, consumed[2]]):  # s1's departure redelivered
        view.offer(event, now=10.0 + i * 0.1)
    shown = view.advance(now=12.0)
    assert [h.time for h in shown] == sorted(h.time for h in shown)
    assert [(h.subject, h.text) for h in shown] == [
        ("s1", "departed origin"),
        ("s2", "departed origin"),
        ("s1", "arrived destination"),
        ("s2", "arrived destination"),
    ]
    assert view.late == 0
    assert view.rows["s1"].milestone == "arrived destination"
    assert view.rows["s1"].status == "arrived"
    assert view.rows["s1"].milestone_at == T0 + timedelta(hours=20)
    assert view.log[0].startswith(f"{T0 + timedelta(hours=1):%Y-%m-%d %H:%M} s1:")


def test_an_event_behind_the_watermark_is_marked_late_and_does_not_move_the_row_back() -> None:
    view = DemoView(hold_s=0.5)
    view.book(booking("s1", ["d1"]), pledged=False)
    view.offer(milestone("s1", Milestone.ARRIVED_DESTINATION, ShipmentStatus.ARRIVED, 20), 0.0)
    view.advance(now=1.0)
    view.offer(milestone("s1", Milestone.DEPARTED_ORIGIN, ShipmentStatus.IN_TRANSIT, 1), 2.0)
    [h] = view.advance(now=3.0)
    assert h.late
    assert view.late == 1
    assert "[late]" in view.log[-1]
    assert view.rows["s1"].milestone == "arrived destination"


def test_rows_take_temperature_alarms_and_drawdowns() -> None:
    view = DemoView(hold_s=0.0)
    view.book(booking("shp-a", ["dev-a"]), pledged=True)
    view.reading(TrackerReading(device_id="dev-a", seq=1, ts=T0, temperature_c=4.5))
    view.reading(TrackerReading(device_id="unknown", seq=1, ts=T0, temperature_c=40.0))
    view.offer(shipment_event(breach("shp-a")), 0.0)
    view.offer(finance_event(drawdown("fac-a", "shp-a", "75000", "75000", 11)), 0.0)
    view.offer(finance_event(base_changed("fac-a", "150000", "0", 10)), 0.0)
    shown = view.advance(now=0.0)
    row = view.rows["shp-a"]
    assert row.temperature_c == 4.5
    assert row.alarm.startswith("temperature_high breach started")
    assert row.drawn == {"USD": Decimal("75000")}
    assert row.pledged == "USD 250,000.00"
    assert [h.kind for h in shown if h.text is None] == ["borrowing_base_changed"]  # quiet
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(render(view))
    picture = console.file.getvalue()  # type: ignore[attr-defined]
    assert "shp-a" in picture
    assert "CNSHA > NLRTM" in picture
    assert "sea" in picture
    assert "4.5 °C" in picture
    assert "USD 75,000.00" in picture


def test_the_plain_display_prints_released_lines_only() -> None:
    view = DemoView(hold_s=1.0)
    out = io.StringIO()
    display = PlainDisplay(view, out)
    view.offer(shipment_event(departed("shp-a")), now=0.0)
    display.refresh(0.5)
    assert out.getvalue() == ""
    display.refresh(1.0)
    assert out.getvalue().endswith("shp-a: departed origin at CNSHA\n")
    display.status("fleet 1/1 online")
    assert out.getvalue().endswith("  fleet 1/1 online\n")


def test_describe_names_money_and_codes() -> None:
    assert describe(finance_event(drawdown("fac-a", "shp-a", "75000", "75000", 11))) == (
        "drawdown executed shp-a USD 75,000.00"
    )
    assert describe(rejected("fac-a", "shp-a", 12)) == "drawdown rejected shp-a (cargo_impaired)"
    assert describe(shipment_event(silent("shp-a", "dev-a"))) == "tracker silent (dev-a)"
    claim = ClaimEvent.model_validate_json(claim_paid("pol-shp-a", "shp-a")[1])
    assert describe(claim) == "claim paid USD 60,000.00 (temperature)"
    reminder = FundingReminder(
        facility_id="fac-a",
        shipment_id="shp-a",
        line="drawdown",
        milestone=Milestone.ENTERED_BONDED_WAREHOUSE,
        expected_on=date(2026, 3, 22),
        amount=Money(amount=Decimal("110000"), currency="USD"),
        basis="eta",
        previous_expected_on=date(2026, 3, 20),
        at=datetime(2026, 3, 19, tzinfo=UTC),
    )
    envelope = FinanceEvent(
        id="r-1",
        source="/t",
        type="tradelane.finance.funding_reminder.v1",
        subject="fac-a",
        time=reminder.at,
        data=reminder,
    )
    assert describe(envelope) == (
        "reminder to the seller: drawdown shp-a USD 110,000.00 at entered bonded warehouse, "
        "expected 2026-03-22 (was 2026-03-20)"
    )


def _ledger() -> list[LedgerEntry]:
    first = drawdown_entry("fac-a", "shp-a", "75000", 11)
    second = drawdown_entry(
        "fac-a",
        "shp-b",
        "25000.50",
        12,
        seq=1,
        prev_hash=first.hash,
        milestone=Milestone.ARRIVED_DESTINATION,
    )
    return [first, second]


def test_a_clean_runs_summary_comes_from_the_ledger_and_events() -> None:
    finance = [
        finance_event(drawdown("fac-a", "shp-a", "75000", "75000", 11)),
        finance_event(base_changed("fac-a", "150000", "75000", 12)),
    ]
    verdict = LedgerVerdict("fac-a", ok=True, entries=2)
    summary = Summary.build(_ledger(), finance, [], [], [verdict])
    assert summary.drawdowns == 2  # the ledger's count, not the one event shown
    assert summary.drawn == {"USD": Decimal("100000.50")}
    assert summary.clean
    lines = "\n".join(summary.lines())
    assert "drawdowns         2: USD 100,000.50" in lines
    assert "ledger fac-a: 2 entries, verified OK" in lines
    assert "clean run: 0 claims, 0 tamper, 0 rejected tranches" in lines


def test_a_summary_names_claims_rejections_and_haircuts() -> None:
    haircut = CollateralLine(
        shipment_id="shp-a",
        status=None,
        value=None,
        advance_rate=Decimal("0.6"),
        haircut=Decimal("0.5"),
        eligible=Money(amount=Decimal(0), currency="USD"),
    )
    finance = [
        finance_event(base_changed("fac-a", "0", "75000", 20, collateral=[haircut])),
        rejected("fac-a", "shp-a", 30),
    ]
    claims = [
        ClaimEvent.model_validate_json(claim_raised("pol-shp-a", "shp-a")[1]),
        ClaimEvent.model_validate_json(claim_paid("pol-shp-a", "shp-a")[1]),
    ]
    bad = LedgerVerdict("fac-a", ok=False, entries=2, problems=("seq 1: broken link",))
    summary = Summary.build(_ledger(), finance, claims, [], [bad])
    assert not summary.clean
    assert summary.haircuts == {"shp-a": Decimal("0.5")}
    assert summary.claims_paid == 1
    assert summary.paid == {"USD": Decimal("60000.00")}
    lines = "\n".join(summary.lines())
    assert "claims            1 raised, 1 paid: USD 60,000.00" in lines
    assert "ledger fac-a: 2 entries, verification FAILED (1 problems)" in lines
    assert "rejected tranches 1 (1 rejections)" in lines
    assert "tranche rejected: shp-a arrived_destination: cargo_impaired (x1)" in lines
    assert "claim raised: shp-a temperature tier 0: 45 minutes >= 30" in lines
    assert "haircut 50%: shp-a" in lines


def test_the_worker_is_ready_once_its_log_says_each_group_synced(tmp_path: Path) -> None:
    """On the embedded Tansu broker the coordinator describes no assignments: the demo reads
    aiokafka's line in the worker's log, after where the log ended when the worker started."""
    log = tmp_path / "demo-worker.log"
    log.write_text("... Successfully synced group old-run with generation 0\n")
    offset = log.stat().st_size
    with log.open("a") as f:
        f.write(
            "[2026-12-06 15:25:08,680] [1] [INFO] Successfully synced group app-pledge with "
            "generation 0 \nworker app refused to start: another worker group is active\n"
            "Traceback (most recent call last):\n  File ...\n"
        )
    assert synced_groups(log, offset) == {"app-pledge"}
    assert synced_groups(tmp_path / "missing.log", 0) == set()
    assert _last_line(log, offset).startswith("worker app refused to start")
