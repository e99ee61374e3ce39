"""ISO 20022-flavoured notices, pure: a drawdown or a claim payout as a camt.054-style
Bank-to-Customer Debit/Credit Notification (``camt.054.001.08``).

For banks whose back office reads ISO 20022 rather than JSON. The notification holds one entry
(``Ntry``) with its amount and currency, debit or credit indicator (a drawdown debits the
borrower's loan account; a claim payout credits the loss payee), status ``BOOK``, booking and
value dates from the event time, a proprietary bank transaction code naming the Tradelane
event, and references (shipment, facility or policy, claim, cause). Only the elements that
carry something are written; the order of elements follows the camt.054.001.08 schema.

The XML travels inside a CloudEvent like every delivery: ``datacontenttype`` is
``application/xml``, ``dataschema`` names the ISO message, ``data`` is the XML text, and the id
is derived from the source event's id.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from xml.etree import ElementTree as ET

from pydantic import TypeAdapter

from tradelane.contracts.finance import DrawdownExecuted
from tradelane.contracts.insurance import ClaimPaid
from tradelane.contracts.money import Money
from tradelane.ids import derive_id

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
CAMT_TYPES = {
    "tradelane.finance.drawdown_executed.v1": "drawdown",
    "tradelane.insurance.claim_paid.v1": "claim_payout",
}
"""Event types that have a camt.054 rendering."""
_DRAWDOWN = TypeAdapter(DrawdownExecuted)
_PAID = TypeAdapter(ClaimPaid)


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


def render(event_id: str, event_type: str, data: dict[str, object]) -> bytes | None:
    """The camt.054 XML for an event, or ``None`` when its type has no rendering."""
    what = CAMT_TYPES.get(event_type)
    if what is None:
        return None
    if what == "drawdown":
        d = _DRAWDOWN.validate_python(data)
        account, amount, indicator, at = d.facility_id, d.amount, "DBIT", d.at
        code, refs = "TRADELANE/DRAWDOWN", [("EndToEndId", d.drawdown_id)]
        info = f"Drawdown {d.drawdown_id} shipment {d.shipment_id} milestone {d.milestone}"
    else:
        p = _PAID.validate_python(data)
        account, amount, indicator, at = p.facility_id or p.policy_id, p.amount, "CRDT", p.at
        code, refs = "TRADELANE/CLAIM_PAYOUT", [("EndToEndId", p.cause_id)]
        info = f"Claim {p.claim_id} policy {p.policy_id} shipment {p.shipment_id} to {p.loss_payee}"
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
    _el(acct, "Ccy", amount.currency)
    entry = _el(note, "Ntry")
    _el(entry, "NtryRef", _text(event_id, 35))
    _el(entry, "Amt", _amount(amount), Ccy=amount.currency)
    _el(entry, "CdtDbtInd", indicator)
    _el(_el(entry, "Sts"), "Cd", "BOOK")
    _el(_el(entry, "BookgDt"), "DtTm", _iso(at))
    _el(_el(entry, "ValDt"), "Dt", at.date().isoformat())
    prtry = _el(_el(entry, "BkTxCd"), "Prtry")
    _el(prtry, "Cd", code)
    _el(prtry, "Issr", "Tradelane")
    tx = _el(_el(entry, "NtryDtls"), "TxDtls")
    ids = _el(tx, "Refs")
    for tag, value in refs:
        _el(ids, tag, _text(value, 35))
    _el(_el(tx, "RmtInf"), "Ustrd", _text(info, 140))
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
