"""Standard Webhooks signing against the specification's published test vector, an
independent implementation (the ``standardwebhooks`` package) and rotation overlap."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from webhooks.signing import (
    BadSecretError,
    MissingHeadersError,
    NoMatchingSignatureError,
    StaleTimestampError,
    new_secret,
    sign_headers,
    signature,
    verify,
)

# The specification's test vector (standard-webhooks spec and every reference library).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_reproduces_the_spec_test_vector() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS)}
    headers["webhook-signature"] = SPEC_SIGNATURE
    assert verify([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TS + 10) == SPEC_ID


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"webhook-signature": "v1,AAAA"}, NoMatchingSignatureError),
        ({"webhook-signature": "v2," + SPEC_SIGNATURE[3:]}, NoMatchingSignatureError),
        ({"webhook-id": "msg_other"}, NoMatchingSignatureError),
        ({"webhook-timestamp": str(SPEC_TS - 301)}, StaleTimestampError),
        ({"webhook-timestamp": "soon"}, StaleTimestampError),
        ({"webhook-id": ""}, MissingHeadersError),
    ],
)
def test_refuses_tampered_stale_and_incomplete(
    change: dict[str, str], error: type[Exception]
) -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TS),
        "webhook-signature": SPEC_SIGNATURE,
    } | change
    with pytest.raises(error):
        verify([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TS)


def test_tampered_body_is_refused() -> None:
    headers = sign_headers([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY)
    with pytest.raises(NoMatchingSignatureError):
        verify([SPEC_SECRET], headers, SPEC_BODY.replace(b"2", b"3"), now=SPEC_TS)


def test_rotation_overlap_old_and_new_secret_both_verify() -> None:
    old, new = SPEC_SECRET, new_secret()
    headers = sign_headers([old, new], SPEC_ID, SPEC_TS, SPEC_BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for receiver_holds in ([old], [new]):
        assert verify(receiver_holds, headers, SPEC_BODY, now=SPEC_TS) == SPEC_ID
    after_overlap = sign_headers([new], SPEC_ID, SPEC_TS, SPEC_BODY)
    with pytest.raises(NoMatchingSignatureError):
        verify([old], after_overlap, SPEC_BODY, now=SPEC_TS)


@pytest.mark.parametrize(
    "secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_AAAA"]
)
def test_bad_secrets_are_named(secret: str) -> None:
    with pytest.raises(BadSecretError):
        signature(secret, SPEC_ID, SPEC_TS, SPEC_BODY)


@given(msg_id=st.text(min_size=1, max_size=40).filter(lambda s: " " not in s), body=st.binary())
def test_the_standardwebhooks_package_agrees(msg_id: str, body: bytes) -> None:
    """Any signature we make, the independent implementation accepts (and vice versa)."""
    secret = new_secret()
    text = body.decode("latin-1").encode()
    now = int(time.time())
    headers = sign_headers([secret], msg_id, now, text)
    Webhook(secret).verify(text, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(text, headers, json_parse=False)
