"""ISO 20022-flavoured notices, pure: a drawdown, a repayment or a claim payout as a
camt.054-style Bank-to-Customer Debit/Credit Notification (``camt.054.001.08``).

For banks whose back office reads ISO 20022 rather than JSON. Each entry (``Ntry``) has its
amount and currency, debit or credit indicator (a drawdown debits the borrower's loan account;
a repayment credits it; a claim payout credits the loss payee), status ``BOOK``, booking and
value dates from the event time, a proprietary bank transaction code naming the Tradelane
event, and references (shipment, facility or policy, claim, cause). A repayment is one entry
for what it paid of interest and principal and, when it brought more than was owed, a second
entry for the surplus held for the borrower (``TRADELANE/SURPLUS_TO_BORROWER``), the amounts
the ledger entry posts. Drawdowns and repayments name that ledger entry (seq and hash) and the
outstanding principal after it in ``AddtlNtryInf``: the figure of the facility's ledger fold
(``finance.positions``), which every API view states too. Only the elements that carry
something are written; the order of elements follows the camt.054.001.08 schema.

The XML travels inside a CloudEvent like every delivery: ``datacontenttype`` is
``application/xml``, ``dataschema`` names the ISO message, ``data`` is the XML text, and the id
is derived from the source event's id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

from pydantic import TypeAdapter

from tradelane.contracts.finance import DrawdownExecuted, RepaymentApplied
from tradelane.contracts.insurance import ClaimPaid
from tradelane.contracts.money import Money
from tradelane.ids import derive_id

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
CAMT_TYPES = {
    "tradelane.finance.drawdown_executed.v1": "drawdown",
    "tradelane.finance.repayment_applied.v1": "repayment",
    "tradelane.insurance.claim_paid.v1": "claim_payout",
}
"""Event types that have a camt.054 rendering."""
_DRAWDOWN = TypeAdapter(DrawdownExecuted)
_REPAID = TypeAdapter(RepaymentApplied)
_PAID = TypeAdapter(ClaimPaid)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One ``Ntry`` of a notice."""

    amount: Money
    indicator: str
    code: str
    end_to_end: str
    info: str
    extra: str | None = None
    """``AddtlNtryInf``: the ledger entry and the outstanding after it."""


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str, limit: int) -> str:
    """Free text fit for an ISO 20022 text element: characters XML 1.0 cannot carry become
    ``?``, and it is cut to the element's maximum length."""
    return _NOT_XML.sub("?", value)[:limit] or "?"


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrs)
    if text is not None:
        child.text = text
    return child


def _amount(money: Money) -> str:
    return f"{money.amount.quantize(Decimal('0.01')):f}"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ledger_note(seq: int | None, digest: str | None, outstanding: Money) -> str:
    where = "" if seq is None else f"ledger seq {seq} hash {digest}; "
    return f"{where}outstanding after {_amount(outstanding)} {outstanding.currency}"


def _entries(what: str, data: dict[str, object]) -> tuple[str, datetime, list[_Entry]]:
    """The account, the booking time and the entries of an event's notice."""
    if what == "drawdown":
        d = _DRAWDOWN.validate_python(data)
        info = f"Drawdown {d.drawdown_id} shipment {d.shipment_id} milestone {d.milestone}"
        note = _ledger_note(d.ledger_seq, d.ledger_hash, d.outstanding_after)
        entry = _Entry(d.amount, "DBIT", "TRADELANE/DRAWDOWN", d.drawdown_id, info, note)
        return d.facility_id, d.at, [entry]
    if what == "repayment":
        r = _REPAID.validate_python(data)
        note = _ledger_note(r.ledger_seq, r.ledger_hash, r.outstanding_after)
        shipment = f" shipment {r.shipment_id}" if r.shipment_id else ""
        paid = r.interest_paid.amount + r.principal_paid.amount
        entries: list[_Entry] = []
        if paid > 0:
            info = (
                f"Repayment {r.cause_id} ({r.source}){shipment}: interest "
                f"{_amount(r.interest_paid)}, principal {_amount(r.principal_paid)}"
            )
            money = Money(amount=paid, currency=r.principal_paid.currency)
            entries.append(_Entry(money, "CRDT", "TRADELANE/REPAYMENT", r.cause_id, info, note))
        if r.surplus.amount > 0:
            info = f"Surplus of {r.cause_id} ({r.source}){shipment} held for the borrower"
            code = "TRADELANE/SURPLUS_TO_BORROWER"
            entries.append(_Entry(r.surplus, "CRDT", code, r.cause_id, info, note))
        return r.facility_id, r.at, entries
    p = _PAID.validate_python(data)
    info = f"Claim {p.claim_id} policy {p.policy_id} shipment {p.shipment_id} to {p.loss_payee}"
    entry = _Entry(p.amount, "CRDT", "TRADELANE/CLAIM_PAYOUT", p.cause_id, info)
    return p.facility_id or p.policy_id, p.at, [entry]


def render(event_id: str, event_type: str, data: dict[str, object]) -> bytes | None:
    """The camt.054 XML for an event, or ``None`` when its type has no rendering (or, for a
    repayment of a total loss, nothing moved)."""
    what = CAMT_TYPES.get(event_type)
    if what is None:
        return None
    account, at, entries = _entries(what, data)
    if not entries:
        return None
    msg_id = derive_id("camt054", event_id)[:35]

    ET.register_namespace("", NAMESPACE)
    doc = ET.Element(f"{{{NAMESPACE}}}Document")
    root = _el(doc, "BkToCstmrDbtCdtNtfctn")
    header = _el(root, "GrpHdr")
    _el(header, "MsgId", msg_id)
    _el(header, "CreDtTm", _iso(at))
    note = _el(root, "Ntfctn")
    _el(note, "Id", msg_id)
    _el(note, "CreDtTm", _iso(at))
    acct = _el(note, "Acct")
    _el(_el(_el(acct, "Id"), "Othr"), "Id", _text(account, 34))
    _el(acct, "Ccy", entries[0].amount.currency)
    for index, item in enumerate(entries):
        ref = event_id if index == 0 else f"{event_id}/{index}"
        entry = _el(note, "Ntry")
        _el(entry, "NtryRef", _text(ref, 35))
        _el(entry, "Amt", _amount(item.amount), Ccy=item.amount.currency)
        _el(entry, "CdtDbtInd", item.indicator)
        _el(_el(entry, "Sts"), "Cd", "BOOK")
        _el(_el(entry, "BookgDt"), "DtTm", _iso(at))
        _el(_el(entry, "ValDt"), "Dt", at.date().isoformat())
        prtry = _el(_el(entry, "BkTxCd"), "Prtry")
        _el(prtry, "Cd", item.code)
        _el(prtry, "Issr", "Tradelane")
        tx = _el(_el(entry, "NtryDtls"), "TxDtls")
        _el(_el(tx, "Refs"), "EndToEndId", _text(item.end_to_end, 35))
        _el(_el(tx, "RmtInf"), "Ustrd", _text(item.info, 140))
        if item.extra is not None:
            _el(entry, "AddtlNtryInf", _text(item.extra, 500))
    xml: bytes = ET.tostring(doc, encoding="utf-8", xml_declaration=True)
    return xml


def notice_event(event: dict[str, object]) -> bytes | None:
    """The CloudEvent carrying the camt.054 rendering of ``event`` (a parsed envelope), or
    ``None`` when it has none."""
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    xml = render(str(event["id"]), str(event["type"]), data)
    if xml is None:
        return None
    notice = {
        "specversion": "1.0",
        "id": derive_id("camt054", str(event["id"])),
        "source": event["source"],
        "type": event["type"],
        "subject": event["subject"],
        "time": event["time"],
        "datacontenttype": "application/xml",
        "dataschema": NAMESPACE,
        "data": xml.decode(),
    }
    return json.dumps(notice, separators=(",", ":")).encode()
