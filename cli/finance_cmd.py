"""``tradelane finance calendar|fx-feed``: the pledge facility's funding calendar and the
simulated FX feed (finance/calendar.py, finance/fx_feed.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

CALENDAR_HELP = """\
The seller's forward funding calendar of a pledge facility for the next DAYS (default 28,
at most 182) from --start (default: the facility's last event time, its ledger head's; today,
UTC, for a facility without events). A projection: nothing is re-run, nothing is promised
(each tranche is decided at its milestone: headroom, condition and freeze apply).

Lines: each pledged shipment's scheduled tranches (drawdown), dated from its plan, latest ETA
or actual arrival and priced from the latest borrowing base's collateral line at the advance
rate of the status the milestone brings; the repayment its delivery should bring (what would
then be lent against it); and one interest line per week (7 days from the start, dated the
week's last day). Columns:
  status     expected | overdue (due before the start, not reached; it moves principal on the
             first day) | done (reached in the window: what the ledger drew). A milestone
             that happened is never overdue.
  basis      what dated the line: reached (actual time), eta (latest reported ETA), plan
             (booking), delivery_lag (arrival + 2 days), accrual (interest)
  certainty  certain (done) | firm (dated by an ETA or an actual arrival, within 7 days) |
             estimated (anything else)

Weeks and days (amounts in the facility currency):
  drawdowns, repayments  principal expected in and out (overdue lines on the first day)
  interest               accrued on the day's closing principal (the engine's day count and
                         rounding); interest is not principal and moves no balance
  outstanding            projected principal at the end of the day (of the week)
  headroom               min(projected base, limit) - outstanding at the end of the day; the
                         base follows each shipment's projected status, delivered counts zero
                         (weeks: the lowest of the week)
  due                    what the seller pays the bank that day: repayments plus the interest
                         then due (repayments pay interest first)
  available              what the facility provides that day: tranches in plus the headroom
                         left at the end of the day (none when negative)
  short                  due - available when positive: a CASH GAP, money that must come from
                         elsewhere that day (typically the buyer paying for the goods)
Only days with a drawdown, a repayment or a gap are listed; --daily lists every day.

Outstanding is the facility ledger's principal, the figure the API's summary, ledger view
and chart state. Nothing is re-run: the records of finance.facilities, shipments.registry,
shipments.events, finance.events and finance.ledger under the facility and its pledged
shipments are folded into the API's read model and projected as the API projects them.
--save FILE keeps those records (JSON lines); --records FILE reads them instead of Kafka.
"""

FX_HELP = """\
Publish a deterministic simulated FX feed to fx.rates (key BASE/QUOTE): every pair of the
simulated fleet's currencies against USD, COUNT rounds STEP minutes apart from START, each
round moving each rate by at most --max-move-bp basis points. The same --seed always gives
the same rates. --dry-run prints them instead.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "finance",
        help="pledge facility tools: funding calendar, simulated FX feed",
        description="Tools around the inventory-pledge engine (docs/finance.md).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    calendar = actions.add_parser(
        "calendar",
        help="expected drawdowns, repayments, interest and cash gaps of a facility, day by day",
        description=CALENDAR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    calendar.add_argument("--facility", required=True, metavar="ID", help="facility id")
    calendar.add_argument(
        "--records", type=Path, help="records saved with --save, instead of reading Kafka"
    )
    calendar.add_argument("--save", type=Path, help="write the records read to FILE")
    calendar.add_argument(
        "--start",
        type=date.fromisoformat,
        help="first day, YYYY-MM-DD (default: the day of the facility's last event)",
    )
    window = calendar.add_mutually_exclusive_group()
    window.add_argument("--days", type=int, help="window in days (default 28, at most 182)")
    window.add_argument("--weeks", type=int, help="window in weeks (--days 7 x WEEKS)")
    calendar.add_argument("--daily", action="store_true", help="list every day, not only busy ones")
    calendar.set_defaults(handler=_calendar)
    feed = actions.add_parser(
        "fx-feed",
        help="publish a seeded, simulated FX feed to fx.rates",
        description=FX_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    feed.add_argument("--seed", type=int, default=7, help="default %(default)s")
    feed.add_argument("--count", type=int, default=24, help="rounds (default %(default)s)")
    feed.add_argument("--step-minutes", type=int, default=60, help="default %(default)s")
    feed.add_argument(
        "--start",
        type=datetime.fromisoformat,
        help="first round's as_of, ISO 8601 with zone (default: now, UTC)",
    )
    feed.add_argument("--max-move-bp", type=int, default=25, help="default %(default)s")
    feed.add_argument("--dry-run", action="store_true", help="print, do not publish")
    feed.set_defaults(handler=_fx_feed)


def _calendar(args: argparse.Namespace) -> int:
    from api.finance_reads import calendar, default_start
    from api.projection import ReadModel, apply
    from finance.calendar import DAYS_MAX, render
    from tradelane.errors import UsageError

    days = args.days if args.days is not None else 7 * (args.weeks if args.weeks is not None else 4)
    if not 1 <= days <= DAYS_MAX:
        raise UsageError(f"the window must be 1..{DAYS_MAX} days, not {days}")
    records = _read_records(args.records) if args.records else _kafka_records(args.facility)
    if args.save is not None:
        lines = (json.dumps({"topic": t, "value": v.decode()}) + "\n" for t, v in records)
        args.save.write_text("".join(lines))
    model = ReadModel()
    for topic, value in records:
        apply(model, topic, value)
    view = model.facilities.get(args.facility)
    if view is None or view.facility is None:
        raise UsageError(f"no facility {args.facility!r} on finance.facilities")
    start_day: date = args.start or (default_start(view) or datetime.now(UTC)).date()
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    print(render(calendar(model, view, start, days), daily=args.daily), end="")
    return 0


def _read_records(path: Path) -> list[tuple[str, bytes]]:
    from tradelane.errors import UsageError

    try:
        lines = path.read_text().splitlines()
        parsed = [json.loads(line) for line in lines if line.strip()]
        return [(str(r["topic"]), str(r["value"]).encode()) for r in parsed]
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a records file ({exc})") from exc


def _kafka_records(facility_id: str) -> list[tuple[str, bytes]]:
    """The records of every topic the calendar folds, under the facility's and its pledged
    shipments' keys (the facility record first, to learn which shipments)."""
    from api.finance_reads import calendar_topics
    from finance.rebuild import read_topic
    from tradelane.contracts import Facility
    from tradelane.settings import KafkaSettings
    from tradelane.topics import FINANCE_FACILITIES

    settings = KafkaSettings()

    async def read() -> list[tuple[str, bytes]]:
        found = await read_topic(settings, FINANCE_FACILITIES.name, [facility_id])
        pledged: list[str] = []
        for record in found:
            try:
                pledged = Facility.model_validate_json(record.value or b"").pledged_shipments
            except ValueError:
                continue
        out: list[tuple[str, bytes]] = []
        for topic, keys in calendar_topics(facility_id, pledged).items():
            if keys:
                records = await read_topic(settings, topic, keys)
                out += [(topic, r.value) for r in records if r.value is not None]
        return out

    return asyncio.run(read())


def _fx_feed(args: argparse.Namespace) -> int:
    from finance.fx_feed import simulated_rates
    from finance.fx_publisher import publish_rates
    from tradelane.errors import UsageError
    from tradelane.principals import Principal
    from tradelane.settings import KafkaSettings

    start: datetime = args.start or datetime.now(UTC).replace(microsecond=0)
    if start.tzinfo is None:
        raise UsageError("--start needs a zone, e.g. 2026-03-02T00:00:00+00:00")
    if args.count < 1 or args.step_minutes < 1 or args.max_move_bp < 0:
        raise UsageError("--count and --step-minutes must be >= 1, --max-move-bp >= 0")
    rates = simulated_rates(
        args.seed,
        start,
        count=args.count,
        step=timedelta(minutes=args.step_minutes),
        max_move_bp=args.max_move_bp,
    )
    if args.dry_run:
        for rate in rates:
            print(f"{rate.as_of.isoformat()}  {rate.base}/{rate.quote}  {rate.rate}")
        return 0
    settings = KafkaSettings().as_principal(Principal.SIMULATOR)
    sent = asyncio.run(publish_rates(settings, rates))
    print(f"published {sent} rates to fx.rates at {settings.bootstrap_servers}")
    return 0
