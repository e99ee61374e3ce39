"""Secrets sealed at rest: round trips, plaintext records still read, key rotation without
loss, tampering and swapping refused, and where the key comes from."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradelane.contracts.webhooks import SubscriberRole, WebhookSubscription
from tradelane.topics import WEBHOOKS_SUBSCRIPTIONS
from webhooks.lifecycle import created, rotated
from webhooks.sealing import (
    MissingKeyError,
    SealingError,
    SecretBox,
    is_local,
    load_box,
    new_key,
    seal,
    unseal,
)
from webhooks.signing import new_secret
from webhooks.store import SubscriptionBook

NOW = datetime(2026, 3, 1, tzinfo=UTC)
OLD, NEW = new_key(), new_key()


def subscription(sid: str = "wh_sealtest1") -> WebhookSubscription:
    sub = created(
        sid, SubscriberRole.BANK, "bank-a", new_secret(), NOW, url="https://bank.example/h"
    )
    return rotated(sub, new_secret(), NOW, timedelta(hours=1))  # two secrets, one expiring


def test_round_trip_keeps_everything_and_shows_no_secret() -> None:
    sub = subscription()
    box = SecretBox.parse(NEW)
    record = seal(sub, box)
    for s in sub.secrets:
        assert s.secret.encode() not in record
        assert s.secret.removeprefix("whsec_").encode() not in record
    data = json.loads(record)
    assert data["schema_version"] == 2
    assert all(set(e) == {"sealed", "created_at", "expires_at"} for e in data["secrets"])
    opened = unseal(record, box)
    assert opened.subscription == sub
    assert opened.stale is False


def test_plaintext_records_still_load_and_are_marked_for_rewriting() -> None:
    sub = subscription()
    opened = unseal(sub.model_dump_json().encode(), SecretBox.parse(NEW))
    assert opened.subscription == sub
    assert opened.stale is True
    assert unseal(sub.model_dump_json().encode(), None).subscription == sub


def test_rotation_opens_old_records_and_marks_them_until_rewritten() -> None:
    sub = subscription()
    old_record = seal(sub, SecretBox.parse(OLD))
    both = SecretBox.parse(f"{NEW},{OLD}")
    opened = unseal(old_record, both)
    assert opened.subscription == sub
    assert opened.stale is True
    rewritten = seal(opened.subscription, both)
    assert unseal(rewritten, SecretBox.parse(NEW)) == type(opened)(sub, stale=False)
    with pytest.raises(SealingError, match="does not open"):
        unseal(old_record, SecretBox.parse(NEW))


def test_book_tracks_stale_records_and_counts_unreadable_ones() -> None:
    box = SecretBox.parse(f"{NEW},{OLD}")
    book = SubscriptionBook(box=box)
    a, b, c = (
        subscription("wh_sealtesta"),
        subscription("wh_sealtestb"),
        subscription("wh_sealc123"),
    )
    topic = WEBHOOKS_SUBSCRIPTIONS.name
    book.apply(topic, b"a", a.model_dump_json().encode())
    book.apply(topic, b"b", seal(b, SecretBox.parse(OLD)))
    book.apply(topic, b"c", seal(c, SecretBox.parse(NEW)))
    assert book.stale == {"wh_sealtesta", "wh_sealtestb"}
    assert set(book.subscriptions) == {"wh_sealtesta", "wh_sealtestb", "wh_sealc123"}
    book.apply(topic, b"x", seal(subscription("wh_sealtestx"), SecretBox.parse(new_key())))
    assert book.unreadable == 1
    book.put(a)
    assert book.stale == {"wh_sealtestb"}


def test_tampered_and_swapped_secrets_do_not_open() -> None:
    box = SecretBox.parse(NEW)
    mine = json.loads(seal(subscription("wh_sealmine1"), box))
    theirs = json.loads(seal(subscription("wh_sealtheirs"), box))
    mine["secrets"] = theirs["secrets"]
    with pytest.raises(SealingError, match="another subscription"):
        unseal(json.dumps(mine).encode(), box)
    token = theirs["secrets"][0]["sealed"]
    theirs["secrets"][0]["sealed"] = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SealingError):
        unseal(json.dumps(theirs).encode(), box)
    with pytest.raises(SealingError, match="needs the webhook secret keys"):
        unseal(seal(subscription(), box), None)
    with pytest.raises(SealingError, match="version"):
        unseal(b'{"schema_version": 9}', box)


@pytest.mark.parametrize(
    ("servers", "local"),
    [
        ("127.0.0.1:9092", True),
        ("localhost:9092,127.0.0.2:9093", True),
        ("[::1]:9092", True),
        ("kafka-1.internal:9092", False),
        ("127.0.0.1:9092,10.0.0.5:9092", False),
    ],
)
def test_local_means_every_broker_on_loopback(servers: str, local: bool) -> None:
    assert is_local(servers) is local


def test_a_local_setup_generates_a_private_key_file_once(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "webhooks.keys"
    first = load_box(None, key_file, "127.0.0.1:9092")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = load_box(None, key_file, "127.0.0.1:9092")
    assert first == again
    assert [p.name for p in key_file.parent.iterdir()] == ["webhooks.keys"]


def test_production_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(MissingKeyError, match="TRADELANE_WEBHOOKS_SECRET_KEYS is not set"):
        load_box(None, tmp_path / "k", "kafka.internal:9092")
    assert not (tmp_path / "k").exists()
    assert load_box(NEW, tmp_path / "k", "kafka.internal:9092") == SecretBox.parse(NEW)
    with pytest.raises(ValueError, match="Fernet keys"):
        load_box("not-a-key", tmp_path / "k", "kafka.internal:9092")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)


@given(
    st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {"schema_version": st.sampled_from([1, 2, 3, "2"]), "secrets": JSON}
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_hostile_records_fail_only_as_unreadable(value: bytes) -> None:
    """Whatever sits on the topic, opening it raises a ValueError (the book counts it as
    unreadable) or yields a valid subscription; it never crashes the follower."""
    box = SecretBox.parse(NEW)
    try:
        opened = unseal(value, box)
    except ValueError:
        return
    assert isinstance(opened.subscription, WebhookSubscription)
