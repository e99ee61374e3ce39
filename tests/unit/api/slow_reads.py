"""Stand-ins for the Kafka-reading computations behind the ledger and calendar endpoints,
which take as long as a test wants: each marks that it started, then waits for a release file
(under a deadline), so a test can act while one is under way without sleeping."""

from __future__ import annotations

import os
import time
from pathlib import Path

from finance.demo_terms import demo_facility
from finance.facility_state import FacilityState, new_state
from finance.pledge_engine import run
from tradelane.settings import KafkaSettings


def rebuild(folder: str, _settings: KafkaSettings, facility_id: str) -> FacilityState:
    """A facility state with the demo terms, once ``folder/release`` exists; appends the
    facility id to ``folder/started`` and writes its process id to ``folder/pid`` first."""
    where = Path(folder)
    with (where / "started").open("a") as started:
        started.write(facility_id + "\n")
    (where / "pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (where / "release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the computation")
        time.sleep(0.01)  # waiting on the test's release file under a deadline
    state, _ = run(new_state(facility_id), [demo_facility(facility_id, [])])
    return state
