"""``tradelane finance calendar|fx-feed``: the pledge facility's funding calendar and the
simulated FX feed (finance/calendar.py, finance/fx_feed.py)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the kernel imports finance only lazily, inside the command
    from finance.facility_state import FacilityState

CALENDAR_HELP = """\
For the next weeks (default 4), the drawdowns a pledge facility should expect - each pledged
shipment's scheduled tranches, dated from its planned milestones and latest ETA, priced as the
engine would price them today (current FX rate and haircut, the advance rate of the status the
milestone brings) - and the repayments its deliveries should bring, in the facility currency.
Milestones that are due but not reached are listed first as overdue.

The facility's state is rebuilt by replaying its inputs from Kafka (finance.facilities,
shipments.registry, shipments.events, fx.rates, finance.commands) through the pledge engine,
or read from a JSON state snapshot with --state (as the finance worker stores it).
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
        help="expected drawdowns and repayments of a facility for the next weeks",
        description=CALENDAR_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    calendar.add_argument("--facility", required=True, metavar="ID", help="facility id")
    calendar.add_argument(
        "--state", type=Path, help="a facility state JSON file instead of replaying Kafka"
    )
    calendar.add_argument(
        "--start", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: today, UTC)"
    )
    calendar.add_argument("--weeks", type=int, default=4, help="window (default %(default)s)")
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
    from finance.calendar import funding_calendar, render
    from tradelane.services.process import ServiceError

    if args.weeks < 1:
        raise ServiceError("--weeks must be >= 1")
    state = _load(args.facility, args.state)
    start_day: date = args.start or datetime.now(UTC).date()
    start = datetime.combine(start_day, time(0), tzinfo=UTC)
    try:
        calendar = funding_calendar(state, start, days=7 * args.weeks)
    except ValueError as exc:
        raise ServiceError(str(exc)) from exc
    print(render(calendar), end="")
    return 0


def _load(facility_id: str, path: Path | None) -> FacilityState:
    from finance.facility_state import load_state
    from finance.rebuild import rebuild_state
    from tradelane.services.process import ServiceError
    from tradelane.settings import KafkaSettings

    if path is None:
        try:
            return asyncio.run(rebuild_state(KafkaSettings(), facility_id))
        except LookupError as exc:
            raise ServiceError(str(exc)) from exc
    try:
        state = load_state(path.read_bytes())
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror}") from exc
    if state.facility_id != facility_id:
        raise ServiceError(f"{path} holds facility {state.facility_id!r}, not {facility_id!r}")
    return state


def _fx_feed(args: argparse.Namespace) -> int:
    from finance.fx_feed import simulated_rates
    from finance.fx_publisher import publish_rates
    from tradelane.principals import Principal
    from tradelane.services.process import ServiceError
    from tradelane.settings import KafkaSettings

    start: datetime = args.start or datetime.now(UTC).replace(microsecond=0)
    if start.tzinfo is None:
        raise ServiceError("--start needs a zone, e.g. 2026-03-02T00:00:00+00:00")
    if args.count < 1 or args.step_minutes < 1 or args.max_move_bp < 0:
        raise ServiceError("--count and --step-minutes must be >= 1, --max-move-bp >= 0")
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
