"""schemathesis against the API's own OpenAPI document: generated requests to every REST
operation (the streaming SSE feed excepted) must get answers that match the document (status
codes, content types, body schemas) and never a server error.

The app runs in-process over a read model folded from the unit tests' fleet, with the real
InfluxDB behind the history endpoints and the real Kafka behind ledger and calendar. The run
is bounded (a few examples per operation), so it finishes in seconds.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.auth import KeyRing, Principal, Role
from api.finance_reads import FinanceReads
from api.history import History
from api.hub import Hub
from api.projection import ReadModel, apply
from api.requests_out import RequestSink
from api.service import ApiState
from api.settings import ApiSettings
from api.shares.store import ShareStore
from tests.unit.api import records
from tradelane.settings import InfluxSettings, KafkaSettings
from webhooks.store import SubscriptionStore

pytestmark = [pytest.mark.integration]
KEY = "schemathesis-operator-key"


def _app_state() -> ApiState:
    model = ReadModel()
    for topic, value in records.fleet():
        apply(model, topic, value)
    generous = ApiSettings(
        rate_per_key=1e6, burst_per_key=10**6, rate_unauthenticated=1e6, burst_unauthenticated=10**6
    )  # schemathesis sends requests as fast as it can: the limits have their own tests
    return ApiState(
        settings=generous,
        keys=KeyRing({KEY: Principal(name="schemathesis", role=Role.OPERATOR)}),
        model=model,
        hub=Hub(model, 100),
        history=History(InfluxSettings()),
        finance=FinanceReads(KafkaSettings(), generous),
        webhooks=SubscriptionStore(),  # in memory: generated subscriptions stay out of Kafka
        shares=ShareStore(),  # in memory, as the subscriptions
        requests=RequestSink(),  # generated decisions and requests stay out of Kafka
    )


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_app_state())).exclude(
    path="/api/v1/live/sse"
)


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, kafka_settings: KafkaSettings, influx_settings: InfluxSettings
) -> None:
    case.call_and_validate(
        headers={"X-API-Key": KEY},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
