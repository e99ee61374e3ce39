"""A stand-in for the Kafka-reading computation behind the ledger endpoint, which takes as
long as a test wants: each marks that it started, then waits for a release file
(under a deadline), so a test can act while one is under way without sleeping."""

from __future__ import annotations

import os
import time
from pathlib import Path

from api.finance_reads import ledger_out
from api.models import LedgerOut
from tradelane.settings import KafkaSettings


def ledger(folder: str, _settings: KafkaSettings, facility_id: str) -> LedgerOut:
    """An empty verified ledger, once ``folder/release`` exists; appends the facility id to
    ``folder/started`` and writes its process id to ``folder/pid`` first."""
    where = Path(folder)
    with (where / "started").open("a") as started:
        started.write(facility_id + "\n")
    (where / "pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (where / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the computation")
        time.sleep(0.01)  # waiting on the test's release file under a deadline
    return ledger_out(facility_id, [])
