"""Hypothesis strategies for every wire contract, built field by field within each contract's
documented bounds, so property tests explore the whole valid space."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st
from pydantic import BaseModel

from tradelane.contracts import (
    BatteryLow,
    BreachEnded,
    BreachKind,
    BreachProgress,
    BreachRule,
    BreachStarted,
    Cargo,
    CollateralStatus,
    ConditionProfile,
    DeadLetter,
    DeadLetterReason,
    DeadLetterV1,
    DelayPredicted,
    DeviationEnded,
    DeviationStarted,
    DeviceState,
    DeviceStatus,
    EtaChanged,
    EventEnvelope,
    Evidence,
    Facility,
    FixQuality,
    FxRate,
    Gps,
    IngestedReading,
    IngestedStatus,
    Leg,
    Milestone,
    MilestoneReached,
    Money,
    PayoutTier,
    Place,
    PlaceKind,
    Policy,
    ProfileKind,
    ReadingRef,
    ShipmentBooking,
    ShipmentEvent,
    ShipmentStatus,
    ShockDetected,
    SourceFormat,
    TamperDetected,
    TrackerReading,
    TrackerResumed,
    TrackerSilent,
    TransportMode,
    Trigger,
    TriggerKind,
    WorkerLease,
)
from tradelane.contracts.insurance import (
    ClaimApproved,
    ClaimDecision,
    ClaimEvent,
    ClaimNeedsReview,
    ClaimPaid,
    ClaimRaised,
    ClaimRejected,
    ClaimUpgraded,
    Decision,
    GateCode,
    GateFinding,
    MeasureUnit,
    PayeeRole,
)
from tradelane.contracts.registries import DataQualityGate

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,15}\Z")
texts = st.text(min_size=1, max_size=20)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
currencies = st.sampled_from(["USD", "EUR", "CNY", "SGD", "GBP", "JPY"])
amounts = st.decimals(min_value=Decimal(0), max_value=Decimal(10) ** 12, places=2)
fractions = st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=4)
money = st.builds(Money, amount=amounts, currency=currencies)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)

gps = st.builds(
    Gps,
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    speed_kmh=st.floats(0, 1200),
    heading_deg=st.floats(0, 359.99),
    fix=st.sampled_from(FixQuality),
    hdop=st.none() | st.floats(0, 99.9),
    satellites=st.none() | st.integers(0, 128),
)
readings = st.builds(
    TrackerReading,
    device_id=ids,
    seq=st.integers(0, 2**63 - 1),
    ts=aware,
    gps=st.none() | gps,
    temperature_c=st.none() | st.floats(-90, 120),
    humidity_pct=st.none() | st.floats(0, 100),
    shock_g=st.none() | st.floats(0, 500),
    light_lux=st.none() | st.floats(0, 200_000),
    tamper=st.booleans(),
    battery_pct=st.none() | st.floats(0, 100),
)
statuses = st.builds(
    DeviceStatus,
    device_id=ids,
    state=st.sampled_from(DeviceState),
    ts=st.none() | aware,
    reporting_interval_s=st.none() | st.integers(1, 86_400),
)
ingested = st.builds(
    IngestedReading,
    reading=readings,
    received_at=aware,
    mqtt_topic=texts,
    source_format=st.sampled_from(SourceFormat),
)
dead_letters_v1 = st.builds(
    DeadLetterV1,
    id=st.text(min_size=1, max_size=32),
    received_at=aware,
    mqtt_topic=texts,
    payload_b64=st.binary(max_size=64).map(lambda b: __import__("base64").b64encode(b).decode()),
    payload_size=st.integers(0, 10**6),
    reason=st.sampled_from(DeadLetterReason),
    message=texts,
)
_b64 = st.binary(max_size=64).map(lambda b: __import__("base64").b64encode(b).decode())
_dead_letter_common = {
    "id": st.text(min_size=1, max_size=32),
    "received_at": aware,
    "source": texts,
    "reason": st.sampled_from(DeadLetterReason),
    "message": texts,
    "payload_prefix_b64": _b64,
    "payload_truncated": st.booleans(),
    "payload_size": st.integers(0, 10**6),
    "payload_sha256": st.from_regex(r"\A[0-9a-f]{64}\Z"),
}
dead_letters = st.builds(DeadLetter, mqtt_topic=texts, **_dead_letter_common) | st.builds(
    DeadLetter,
    kafka_topic=texts,
    kafka_partition=st.integers(0, 1000),
    kafka_offset=st.integers(0, 2**62),
    key_b64=st.none() | _b64,
    **_dead_letter_common,
)
places = st.builds(
    Place,
    locode=st.from_regex(r"\A[A-Z]{2}[A-Z2-9]{3}\Z"),
    name=texts,
    kind=st.sampled_from(PlaceKind),
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    radius_km=st.floats(0.1, 100),
)


@st.composite
def legs(draw: st.DrawFn) -> Leg:
    departure = draw(aware)
    return Leg(
        mode=draw(st.sampled_from(TransportMode)),
        origin=draw(places),
        destination=draw(places),
        planned_departure=departure,
        planned_arrival=departure
        + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))),
        waypoints=draw(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), max_size=4)),
    )


@st.composite
def profiles(draw: st.DrawFn) -> ConditionProfile:
    low = draw(st.none() | st.floats(-40, 30))
    high = draw(st.none() | st.floats(-40, 30))
    if low is not None and high is not None and low > high:
        low, high = high, low
    return ConditionProfile(
        kind=draw(st.sampled_from(ProfileKind)),
        temp_min_c=low,
        temp_max_c=high,
        humidity_max_pct=draw(st.none() | st.floats(0, 100)),
        shock_max_g=draw(st.none() | st.floats(0.1, 50)),
    )


bookings = st.builds(
    ShipmentBooking,
    shipment_id=ids,
    shipper=texts,
    consignee=texts,
    origin=places,
    destination=places,
    legs=st.lists(legs(), min_size=1, max_size=3),
    cargo=st.builds(
        Cargo,
        description=texts,
        hs_code=st.from_regex(r"\A\d{6}(\d{2})?\Z"),
        quantity=st.integers(1, 10**6),
        unit=texts,
        value=money,
    ),
    condition=profiles(),
    trackers=st.lists(ids, min_size=1, max_size=3),
    booked_at=aware,
    customs_cleared_at=st.none() | aware,
)
facilities = st.builds(
    Facility,
    facility_id=ids,
    bank_id=texts,
    borrower_id=texts,
    limit=money,
    advance_rates=st.dictionaries(st.sampled_from(CollateralStatus), fractions),
    concentration_limit=fractions,
    margin_call_cure_hours=st.integers(0, 720),
    drawdown_schedule=st.dictionaries(st.sampled_from(["departed_origin", "arrived"]), fractions),
    auto_drawdown=st.booleans(),
    pledged_shipments=st.lists(ids, max_size=3),
)
gates = st.builds(
    DataQualityGate,
    require_evidence=st.booleans(),
    min_readings=st.integers(1, 100),
    max_gap_s=st.integers(1, 86_400),
    max_clock_skew_s=st.integers(0, 86_400),
    min_fix=st.none() | st.sampled_from(FixQuality),
    max_hdop=st.none() | st.floats(0, 99.9),
    quorum=st.none() | st.integers(1, 5),
)
policies = st.builds(
    Policy,
    policy_id=ids,
    insurer_id=texts,
    insured_id=texts,
    shipment_id=ids,
    sum_insured=money,
    deductible=money,
    loss_payee=st.none() | texts,
    triggers=st.lists(
        st.builds(
            Trigger,
            kind=st.sampled_from(TriggerKind),
            cumulative=st.booleans(),
            tiers=st.lists(
                st.builds(PayoutTier, threshold=st.floats(0, 1e6), share=fractions),
                min_size=1,
                max_size=3,
            ),
            trigger_id=st.none() | ids,
            per_day_share=st.none() | fractions,
            cap_share=st.none() | fractions,
            gate=st.none() | gates,
        ),
        min_size=1,
        max_size=3,
    ),
    gate=gates,
)
fx_rates = st.builds(
    FxRate,
    base=currencies,
    quote=currencies,
    rate=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10) ** 6, places=6),
    as_of=aware,
    source=texts,
)
envelopes = st.builds(
    EventEnvelope,
    id=st.text(min_size=1, max_size=32),
    source=st.just("/tradelane/test"),
    type=st.from_regex(r"\Atradelane\.[a-z]{1,8}\.[a-z][a-z_]{0,8}\.v[1-9]\Z"),
    subject=ids,
    time=aware,
    data=st.dictionaries(st.text(max_size=8), json_scalars, max_size=4),
)

BY_MODEL: dict[type[BaseModel], st.SearchStrategy[BaseModel]] = {
    TrackerReading: readings,
    DeviceStatus: statuses,
    IngestedReading: ingested,
    DeadLetter: dead_letters,
    DeadLetterV1: dead_letters_v1,
    ShipmentBooking: bookings,
    Facility: facilities,
    Policy: policies,
    FxRate: fx_rates,
    EventEnvelope: envelopes,
}

# --- shipment events ------------------------------------------------------------------------

finite_floats = st.floats(-1e6, 1e6)
reading_refs = st.builds(
    ReadingRef,
    device_id=ids,
    seq=st.integers(0, 2**40),
    ts=aware,
    fix=st.none() | st.sampled_from(FixQuality),
    hdop=st.none() | st.floats(0, 99.9),
)
evidences = st.builds(
    Evidence,
    readings=st.lists(reading_refs, max_size=3),
    digest=st.from_regex(r"\A[0-9a-f]{64}\Z"),
    count=st.integers(0, 1000),
    first_ts=st.none() | aware,
    last_ts=st.none() | aware,
    minimum=st.none() | finite_floats,
    maximum=st.none() | finite_floats,
    mean=st.none() | finite_floats,
)
locodes = st.from_regex(r"\A[A-Z]{2}[A-Z2-9]{3}\Z")
event_data = st.one_of(
    st.builds(
        MilestoneReached,
        milestone=st.sampled_from(Milestone),
        at=aware,
        place=st.none() | locodes,
        leg_index=st.none() | st.integers(0, 9),
        status=st.sampled_from(ShipmentStatus),
        dwell_s=st.none() | st.integers(0, 10**7),
        in_spec=st.booleans(),
        evidence=st.none() | evidences,
    ),
    st.builds(
        BreachStarted,
        breach=st.sampled_from(BreachKind),
        rule=st.sampled_from(BreachRule),
        limit=finite_floats,
        minutes=st.integers(0, 10**4),
        started_at=aware,
        value=finite_floats,
    ),
    st.builds(
        BreachProgress,
        breach=st.sampled_from(BreachKind),
        rule=st.sampled_from(BreachRule),
        started_at=aware,
        at=aware,
        duration_s=st.integers(0, 10**7),
        peak=finite_floats,
        evidence=evidences,
    ),
    st.builds(
        BreachEnded,
        breach=st.sampled_from(BreachKind),
        rule=st.sampled_from(BreachRule),
        started_at=aware,
        ended_at=aware,
        duration_s=st.integers(0, 10**7),
        peak=finite_floats,
        mean_kinetic_temperature_c=st.none() | finite_floats,
        evidence=evidences,
    ),
    st.builds(
        ShockDetected,
        device_id=ids,
        at=aware,
        g=st.floats(0, 500),
        limit_g=st.floats(0.1, 100),
        evidence=evidences,
    ),
    st.builds(
        TamperDetected,
        device_id=ids,
        at=aware,
        light_lux=st.none() | st.floats(0, 1e5),
        evidence=evidences,
    ),
    st.builds(BatteryLow, device_id=ids, at=aware, battery_pct=st.floats(0, 100)),
    st.builds(
        TrackerSilent,
        device_id=ids,
        last_seen=aware,
        at=aware,
        judged_by=st.sampled_from(["event_time", "last_will"]),
    ),
    st.builds(TrackerResumed, device_id=ids, at=aware, silent_s=st.integers(0, 10**7)),
    st.builds(
        DeviationStarted,
        at=aware,
        distance_km=st.floats(0, 2e4),
        limit_km=st.floats(0.1, 1e3),
        evidence=st.none() | evidences,
    ),
    st.builds(
        DeviationEnded,
        started_at=aware,
        ended_at=aware,
        max_distance_km=st.floats(0, 2e4),
        evidence=st.none() | evidences,
    ),
    st.builds(
        EtaChanged, at=aware, eta=aware, previous_eta=st.none() | aware, planned_arrival=aware
    ),
    st.builds(
        DelayPredicted, at=aware, eta=aware, planned_arrival=aware, delay_h=st.floats(0, 1e4)
    ),
)
shipment_events = st.builds(
    ShipmentEvent,
    id=st.text(min_size=1, max_size=32),
    source=st.just("/tradelane/streams"),
    type=st.just("tradelane.shipment.test.v1"),
    subject=ids,
    time=aware,
    data=event_data,
)
BY_MODEL[ShipmentEvent] = shipment_events

# --- insurance claims and decisions ---------------------------------------------------------

claim_ids = st.from_regex(r"\A[0-9a-f]{32}\Z")
trigger_keys = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,15}\Z")
claim_facts = {
    "claim_id": claim_ids,
    "policy_id": ids,
    "shipment_id": ids,
    "trigger": trigger_keys,
    "trigger_kind": st.sampled_from(TriggerKind),
    "tier": st.integers(0, 5),
    "share": fractions,
    "at": aware,
}
tier_reached = {
    **claim_facts,
    "measure": st.floats(0, 1e6),
    "unit": st.sampled_from(MeasureUnit),
    "threshold": st.floats(0, 1e6),
    "claim_value": money,
    "evidence": st.lists(evidences, max_size=2),
    "cause_event_id": st.text(min_size=1, max_size=32),
}
claim_data = st.one_of(
    st.builds(ClaimRaised, **tier_reached),
    st.builds(
        ClaimUpgraded, previous_share=fractions, previous_tier=st.integers(0, 5), **tier_reached
    ),
    st.builds(
        ClaimNeedsReview,
        findings=st.lists(
            st.builds(
                GateFinding,
                code=st.sampled_from(GateCode),
                device_id=st.none() | ids,
                detail=st.text(max_size=20),
            ),
            min_size=1,
            max_size=3,
        ),
        **claim_facts,
    ),
    st.builds(
        ClaimApproved,
        approved_by=st.sampled_from(["gate", "insurer"]),
        insurer_id=st.none() | texts,
        command_id=st.none() | texts,
        claim_value=money,
        evidence=st.lists(evidences, max_size=2),
        **claim_facts,
    ),
    st.builds(
        ClaimRejected,
        insurer_id=texts,
        command_id=texts,
        reason=st.text(max_size=20),
        **claim_facts,
    ),
    st.builds(
        ClaimPaid,
        cause_id=claim_ids,
        amount=money,
        claim_paid_total=money,
        policy_paid_total=money,
        capped=st.booleans(),
        loss_payee=texts,
        payee_role=st.sampled_from(PayeeRole),
        facility_id=st.none() | ids,
        **claim_facts,
    ),
)
BY_MODEL[ClaimEvent] = st.builds(
    ClaimEvent,
    id=st.text(min_size=1, max_size=32),
    source=st.just("/tradelane/finance/insurance"),
    type=st.just("tradelane.insurance.test.v1"),
    subject=ids,
    time=aware,
    data=claim_data,
)
BY_MODEL[ClaimDecision] = st.builds(
    ClaimDecision,
    command_id=texts,
    decision=st.sampled_from(Decision),
    claim_id=claim_ids,
    policy_id=ids,
    shipment_id=ids,
    insurer_id=texts,
    share=fractions,
    at=aware,
    reason=st.text(max_size=20),
)

from tests.finance_strategies import FINANCE_BY_MODEL  # noqa: E402  (uses the strategies above)

BY_MODEL.update(FINANCE_BY_MODEL)

ingested_statuses = st.builds(IngestedStatus, status=statuses, received_at=aware, mqtt_topic=texts)
BY_MODEL[IngestedStatus] = ingested_statuses

# --- webhooks --------------------------------------------------------------------------------

from tradelane.contracts.webhooks import (  # noqa: E402  (grouped with its strategies)
    DeliveryOutcome,
    SubscriberRole,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSecret,
    WebhookSubscription,
)

subscription_ids = st.from_regex(r"\Awh_[A-Za-z0-9_-]{8,20}\Z")
webhook_secrets = st.builds(
    WebhookSecret,
    secret=st.binary(min_size=24, max_size=64).map(
        lambda b: "whsec_" + base64.b64encode(b).decode()
    ),
    created_at=aware,
    expires_at=st.none() | aware,
)
BY_MODEL[WebhookSubscription] = st.builds(
    WebhookSubscription,
    subscription_id=subscription_ids,
    owner_role=st.sampled_from(SubscriberRole),
    owner_party=st.none() | texts,
    url=st.sampled_from(["https://bank.example/hooks", "http://127.0.0.1:9000/x?y=1"]),
    event_types=st.lists(
        st.sampled_from(["tradelane.finance.*", "tradelane.claim.claim_paid.v1"]), max_size=2
    ),
    subjects=st.lists(ids, max_size=3),
    camt054=st.booleans(),
    secrets=st.lists(webhook_secrets, min_size=1, max_size=2),
    status=st.sampled_from(SubscriptionStatus),
    created_at=aware,
    updated_at=aware,
)
BY_MODEL[WebhookDelivery] = st.builds(
    WebhookDelivery,
    subscription_id=subscription_ids,
    delivery_id=texts,
    event_id=texts,
    event_type=texts,
    subject=texts,
    topic=st.sampled_from(["finance.events", "insurance.claims"]),
    partition=st.integers(0, 11),
    offset=st.integers(0, 2**40),
    attempt=st.integers(1, 20),
    outcome=st.sampled_from(DeliveryOutcome),
    status_code=st.none() | st.integers(100, 599),
    at=aware,
    next_attempt_at=st.none() | aware,
)
BY_MODEL[WorkerLease] = st.builds(
    WorkerLease,
    app_id=st.text(min_size=1, max_size=40),
    member=st.text(min_size=1, max_size=60),
    state=st.sampled_from(["held", "released"]),
    term_s=st.floats(0.001, 3600, allow_nan=False, allow_infinity=False),
)

from tradelane.contracts.shares import (  # noqa: E402  (grouped with its strategies)
    ShareAudience,
    ShareStatus,
    ShipmentShare,
)


@st.composite
def shipment_shares(draw: st.DrawFn) -> ShipmentShare:
    """A share as the API writes it: expiring after creation, revoked_at set iff revoked."""
    created = draw(aware)
    status = draw(st.sampled_from(ShareStatus))
    revoked = draw(aware) if status is ShareStatus.REVOKED else None
    return ShipmentShare(
        share_id="shr_" + draw(st.from_regex(r"\A[0-9a-f]{32}\Z")),
        shipment_id=draw(ids),
        token_sha256=draw(st.from_regex(r"\A[0-9a-f]{64}\Z")),
        creator_role=draw(st.sampled_from(["operator", "bank", "borrower"])),
        creator_party=draw(st.none() | texts),
        creator_name=draw(texts),
        audience=draw(st.sampled_from(ShareAudience)),
        label=draw(st.text(max_size=30)),
        status=status,
        created_at=created,
        expires_at=created + timedelta(seconds=draw(st.integers(1, 90 * 86400))),
        revoked_at=revoked,
        updated_at=draw(aware),
    )


BY_MODEL[ShipmentShare] = shipment_shares()
