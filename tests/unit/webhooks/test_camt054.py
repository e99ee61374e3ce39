"""camt.054 notices for drawdowns, repayments and claim payouts: every rendering has the
structure of a camt.054.001.08 Bank-to-Customer Debit/Credit Notification (element order,
cardinality and simple types of the schema's elements it uses) and carries the event's amounts
and direction; a repayment's surplus is its own entry, held for the borrower."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import strategies as base  # first: it completes tests.finance_strategies
from tests.finance_strategies import applied_fx, hex64
from tradelane.contracts import ClaimPaid, Milestone, Money, PayeeRole
from tradelane.contracts.finance import (
    AppliedFx,
    DrawdownExecuted,
    RepaymentApplied,
    RepaymentSource,
)
from webhooks.camt054 import NAMESPACE, notice_event, render

N = f"{{{NAMESPACE}}}"
# element -> its children in schema order: (name, min occurs, max occurs); None = unbounded
SCHEMA: dict[str, list[tuple[str, int, int | None]]] = {
    "Document": [("BkToCstmrDbtCdtNtfctn", 1, 1)],
    "BkToCstmrDbtCdtNtfctn": [("GrpHdr", 1, 1), ("Ntfctn", 1, None)],
    "GrpHdr": [("MsgId", 1, 1), ("CreDtTm", 1, 1)],
    "Ntfctn": [("Id", 1, 1), ("CreDtTm", 0, 1), ("Acct", 1, 1), ("Ntry", 0, None)],
    "Acct": [("Id", 1, 1), ("Ccy", 0, 1)],
    "Acct/Id": [("Othr", 1, 1)],
    "Othr": [("Id", 1, 1)],
    "Ntry": [
        ("NtryRef", 0, 1),
        ("Amt", 1, 1),
        ("CdtDbtInd", 1, 1),
        ("Sts", 1, 1),
        ("BookgDt", 0, 1),
        ("ValDt", 0, 1),
        ("BkTxCd", 1, 1),
        ("NtryDtls", 0, None),
        ("AddtlNtryInf", 0, 1),
    ],
    "Sts": [("Cd", 1, 1)],
    "BookgDt": [("DtTm", 1, 1)],
    "ValDt": [("Dt", 1, 1)],
    "BkTxCd": [("Prtry", 1, 1)],
    "Prtry": [("Cd", 1, 1), ("Issr", 0, 1)],
    "NtryDtls": [("TxDtls", 0, None)],
    "TxDtls": [("Refs", 0, 1), ("RmtInf", 0, 1)],
    "Refs": [("EndToEndId", 0, 1)],
    "RmtInf": [("Ustrd", 0, None)],
}
TEXT = {
    "MsgId": r"^.{1,35}$",
    "CreDtTm": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
    "DtTm": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
    "Dt": r"^\d{4}-\d\d-\d\d$",
    "Ccy": r"^[A-Z]{3}$",
    "Amt": r"^\d{1,18}\.\d{2}$",
    "CdtDbtInd": r"^(CRDT|DBIT)$",
    "NtryRef": r"^.{1,35}$",
    "EndToEndId": r"^.{1,35}$",
    "Ustrd": r"^.{1,140}$",
    "AddtlNtryInf": r"^.{1,500}$",
    "Id": r"^.{1,35}$",
    "Cd": r"^.{1,35}$",
    "Issr": r"^.{1,35}$",
}


def check(element: ET.Element, path: str = "Document") -> None:
    """Raise AssertionError where ``element`` departs from :data:`SCHEMA`."""
    name = element.tag.removeprefix(N)
    assert element.tag == N + name, f"{path}: wrong namespace {element.tag}"
    rule = SCHEMA.get(f"{_parent(path)}/{name}", SCHEMA.get(name))
    children = [c.tag.removeprefix(N) for c in element]
    if rule is None:
        assert not children, f"{path}: unexpected children {children}"
        pattern = TEXT.get(name)
        assert pattern is not None, f"{path}: unknown leaf"
        assert re.fullmatch(pattern.strip("^$"), element.text or "", re.DOTALL), path
        return
    at = 0
    for child, low, high in rule:
        count = 0
        while at < len(children) and children[at] == child:
            at, count = at + 1, count + 1
        assert count >= low, f"{path}: {child} missing"
        assert high is None or count <= high, f"{path}: too many {child}"
    assert at == len(children), f"{path}: unexpected or misplaced {children[at:]}"
    for child_el in element:
        check(child_el, f"{path}/{child_el.tag.removeprefix(N)}")


def _parent(path: str) -> str:
    parts = path.split("/")
    return parts[-2] if len(parts) > 1 else ""


drawdowns = st.builds(
    DrawdownExecuted,
    facility_id=base.ids,
    shipment_id=base.ids,
    milestone=st.sampled_from(Milestone),
    drawdown_id=st.text(min_size=1, max_size=40),
    amount=base.money,
    share=base.fractions,
    headroom_before=base.money,
    outstanding_after=base.money,
    fx=applied_fx,
    at=base.aware,
    ledger_seq=st.integers(0, 2**40),
    ledger_hash=hex64,
)
payouts = st.builds(
    ClaimPaid,
    cause_id=base.claim_ids,
    amount=base.money,
    claim_paid_total=base.money,
    policy_paid_total=base.money,
    capped=st.booleans(),
    loss_payee=base.texts,
    payee_role=st.sampled_from(PayeeRole),
    facility_id=st.none() | base.ids,
    **base.claim_facts,
)


@settings(max_examples=50, deadline=None)
@given(event=drawdowns | payouts, event_id=st.text(min_size=1, max_size=64))
def test_every_notice_has_the_camt054_structure(
    event: DrawdownExecuted | ClaimPaid, event_id: str
) -> None:
    event_type = (
        "tradelane.finance.drawdown_executed.v1"
        if isinstance(event, DrawdownExecuted)
        else "tradelane.insurance.claim_paid.v1"
    )
    xml = render(event_id, event_type, event.model_dump(mode="json"))
    assert xml is not None
    root = ET.fromstring(xml)  # noqa: S314 (our own output)
    check(root)
    amount = root.find(f".//{N}Ntry/{N}Amt")
    assert amount is not None
    assert Decimal(amount.text or "") == event.amount.amount.quantize(Decimal("0.01"))
    assert amount.get("Ccy") == event.amount.currency
    indicator = root.find(f".//{N}CdtDbtInd")
    assert indicator is not None
    assert indicator.text == ("DBIT" if isinstance(event, DrawdownExecuted) else "CRDT")


eur = st.decimals(min_value=0, max_value=10**9, places=2).map(
    lambda a: Money(amount=a, currency="EUR")
)
repayments = st.builds(
    RepaymentApplied,
    facility_id=base.ids,
    shipment_id=st.none() | base.ids,
    cause_id=base.claim_ids,
    source=st.sampled_from(RepaymentSource),
    received=base.money,
    fx=applied_fx,
    interest_paid=eur,
    principal_paid=eur,
    surplus=eur,
    outstanding_after=eur,
    at=base.aware,
    ledger_seq=st.none() | st.integers(0, 2**40),
    ledger_hash=st.none() | hex64,
)


@settings(max_examples=50, deadline=None)
@given(event=repayments, event_id=st.text(min_size=1, max_size=64))
def test_a_repayment_notice_books_what_was_owed_and_the_surplus_apart(
    event: RepaymentApplied, event_id: str
) -> None:
    xml = render(event_id, "tradelane.finance.repayment_applied.v1", event.model_dump(mode="json"))
    paid = event.interest_paid.amount + event.principal_paid.amount
    if paid == 0 and event.surplus.amount == 0:
        assert xml is None  # a total loss's proceeds move no money
        return
    assert xml is not None
    root = ET.fromstring(xml)  # noqa: S314 (our own output)
    check(root)
    found = {
        (e.findtext(f"{N}BkTxCd/{N}Prtry/{N}Cd")): Decimal(e.findtext(f"{N}Amt") or "")
        for e in root.iter(f"{N}Ntry")
    }
    expected = {"TRADELANE/REPAYMENT": paid, "TRADELANE/SURPLUS_TO_BORROWER": event.surplus.amount}
    assert found == {k: v for k, v in expected.items() if v > 0}
    assert {e.text for e in root.iter(f"{N}CdtDbtInd")} == {"CRDT"}
    note = root.findtext(f".//{N}AddtlNtryInf") or ""
    assert f"outstanding after {event.outstanding_after.amount:.2f} EUR" in note


def test_the_checker_can_fail() -> None:
    root = ET.fromstring(render_sample())  # noqa: S314 (our own output)
    entry = root.find(f".//{N}Ntry")
    assert entry is not None
    amount = entry.find(f"{N}Amt")
    assert amount is not None
    entry.remove(amount)
    entry.append(amount)  # Amt after NtryDtls: out of schema order
    with pytest.raises(AssertionError, match=r"misplaced|missing"):
        check(root)


USD = Money(amount=Decimal("1250.5"), currency="USD")
SAMPLE = DrawdownExecuted(
    facility_id="fac-1",
    shipment_id="shp-1",
    milestone=Milestone.DEPARTED_ORIGIN,
    drawdown_id="dd-1",
    amount=USD,
    share=Decimal("0.5"),
    headroom_before=USD,
    outstanding_after=USD,
    fx=AppliedFx(base="USD", quote="USD", rate=Decimal(1)),
    at=datetime(2026, 3, 1, 12, tzinfo=UTC),
    ledger_seq=0,
    ledger_hash="0" * 64,
)


def render_sample() -> bytes:
    xml = render("evt-1", "tradelane.finance.drawdown_executed.v1", SAMPLE.model_dump(mode="json"))
    assert xml is not None
    return xml


def test_other_types_have_no_notice_and_the_cloudevent_wraps_the_xml() -> None:
    assert render("e", "tradelane.finance.margin_call_issued.v1", {}) is None
    event: dict[str, object] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/tradelane/finance",
        "type": "tradelane.finance.drawdown_executed.v1",
        "subject": "fac-1",
        "time": "2026-03-01T00:00:00Z",
        "data": SAMPLE.model_dump(mode="json"),
    }
    notice = notice_event(event)
    assert notice is not None
    wrapped = json.loads(notice)
    assert wrapped["datacontenttype"] == "application/xml"
    assert wrapped["id"] != "evt-1"
    assert wrapped["id"] == json.loads(notice_event(event) or b"{}")["id"]
    check(ET.fromstring(wrapped["data"]))  # noqa: S314 (our own output)
