"""Every exception class of ours derives from :class:`tradelane.errors.TradelaneError` and
says whether a retry can help; the few left outside are named, with the reason in the tree's
docstring."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tradelane.errors import (
    ContractError,
    OwnershipError,
    ServiceError,
    TradelaneError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [
    "tradelane",
    "transport",
    "ingest",
    "devices",
    "finance",
    "webhooks",
    "streams",
    "api",
    "devtools",
    "faults",
    "bench",
    "cli",
]
OUTSIDE = {
    "api.body_limit.BodyTooLarge",  # an HTTP answer (starlette's HTTPException)
    "api.deps.TooManyRequests",  # an HTTP answer (starlette's HTTPException)
    "streams.loop._Replay",  # a control-flow signal that never leaves the loop
}


def _exception_classes() -> list[str]:
    """Every top-level class of a production module that derives from an exception class
    (by name: ``...Error``, ``...Exception``, or a known exception base)."""
    found = []
    for package in PRODUCTION:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef) and any(
                    ast.unparse(base).endswith(("Error", "Exception", "Rejected"))
                    for base in node.bases
                ):
                    found.append(f"{module.removesuffix('.__init__')}.{node.name}")
    return found


def _load(qualified: str) -> type[BaseException]:
    module, _, name = qualified.rpartition(".")
    loaded: type[BaseException] = getattr(importlib.import_module(module), name)
    return loaded


def test_the_scan_finds_the_known_classes() -> None:
    found = set(_exception_classes())
    assert {"streams.lease.LeaseHeldError", "ingest.adapters.base.Rejected"} <= found
    assert found >= OUTSIDE


@pytest.mark.parametrize("qualified", sorted(set(_exception_classes()) - OUTSIDE))
def test_every_exception_of_ours_is_in_the_tree(qualified: str) -> None:
    cls = _load(qualified)
    assert issubclass(cls, TradelaneError), f"{qualified} is outside tradelane.errors' tree"
    assert isinstance(cls.retriable, bool)


@pytest.mark.parametrize(
    ("qualified", "branch", "retriable"),
    [
        ("transport.kafka.KafkaNotReadyError", ServiceError, True),
        ("finance.ledger_keys.MissingSigningKeyError", ServiceError, False),
        ("tradelane.credentials.CredentialsError", ServiceError, False),
        ("api.app.InsecureConfigError", UsageError, False),
        ("ingest.adapters.base.Rejected", ContractError, False),
        ("webhooks.signing.StaleTimestampError", ContractError, False),
        ("streams.transactions.NotOwnedError", OwnershipError, False),
        ("streams.lease.LeaseHeldError", OwnershipError, False),
    ],
)
def test_branches_and_retriable(
    qualified: str, branch: type[TradelaneError], retriable: bool
) -> None:
    cls = _load(qualified)
    assert issubclass(cls, branch)
    assert cls.retriable is retriable


def test_library_bases_are_kept_where_callers_rely_on_them() -> None:
    assert issubclass(_load("webhooks.pinning.RefusedAddressError"), OSError)
    assert issubclass(_load("transport.kafka.KafkaNotReadyError"), TimeoutError)
    assert issubclass(_load("streams.transactions.NotOwnedError"), RuntimeError)
    assert issubclass(_load("webhooks.address.DestinationRefusedError"), ValueError)
