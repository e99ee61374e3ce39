"""Coverage-guided fuzzing of the same targets with atheris (libFuzzer), optional: atheris is
in the ``fuzz`` extra (``pip install -e '.[fuzz]'``).

    .venv/bin/python -m tests.unit.fuzz.atheris_harness TARGET [libFuzzer flags]
    .venv/bin/python -m tests.unit.fuzz.atheris_harness owntracks -atheris_runs=100000
    .venv/bin/python -m tests.unit.fuzz.atheris_harness finance.commands -max_total_time=60

TARGET is an MQTT adapter (``tradelane``, ``owntracks``, ``ttn``, ``status``) or a Kafka topic
a consumer reads (any of ``tests.unit.fuzz.test_fuzz.KAFKA_TARGETS``). An input that makes a
target raise anything but a refusal ends the run with the exception and the input saved by
libFuzzer (``crash-…``), as the hypothesis tests would fail on it."""

from __future__ import annotations

import sys
from collections.abc import Callable


def main(argv: list[str]) -> int:
    import atheris

    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    target, flags = argv[1], argv[2:]
    with atheris.instrument_imports(include=["ingest", "streams", "finance", "tradelane", "api"]):
        from tests.unit.fuzz import test_fuzz as checks

    one: Callable[[bytes], None]
    if target in checks.MQTT_TARGETS:
        topic = checks.MQTT_TARGETS[target][0]

        def one(data: bytes) -> None:
            checks._check_mqtt(target, topic, data)

    elif target in checks.KAFKA_TARGETS:

        def one(data: bytes) -> None:
            checks._check_topic(target, b"shp-1", data)

    else:
        print(f"unknown target {target!r}", file=sys.stderr)
        return 2
    atheris.Setup([argv[0], *flags], one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
