"""The fault-injection suite (``tradelane faults``): the whole pipeline on the real services,
with processes killed, workers scaled, the Kafka broker restarted, consumer groups reset and
malformed payloads mixed in, each at a seeded moment; afterwards every promise of
docs/reliability.md is checked against the simulator's manifest and against an oracle that
runs the pure engines offline over the same readings.

Pure parts: :mod:`faults.profiles` (what a run injects), :mod:`faults.schedule` (when),
:mod:`faults.oracle` (what the engines must have produced), :mod:`faults.checks` (verdicts
and the report). Shells: :mod:`devtools.children` (the processes under test),
:mod:`faults.followers` (reading Kafka) and :mod:`faults.run` (the run itself).
"""
