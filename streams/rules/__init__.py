"""The shipment rules of the stream worker, one module per rule family.

:mod:`streams.core` is the orchestration (``step``: de-duplication, ordering, then each family
in a fixed order); the families only decide and emit. Every rule takes the step's
:class:`streams.rules.context.StepContext` (state, thresholds, the events emitted so far)
plus the tracker and reading it judges, so the order events are emitted in (and their ids)
is the orchestration's alone.

- :mod:`~streams.rules.settings` — the thresholds (:class:`StreamRules`), re-exported here;
- :mod:`~streams.rules.reorder` — de-duplication, per-device sequence order, stored readings;
- :mod:`~streams.rules.quality` — the plausibility gate and each tracker's data quality;
- :mod:`~streams.rules.health` — silence, resumption, reporting intervals, battery;
- :mod:`~streams.rules.tamper` — shocks, and light or the tamper switch away from a stop;
- :mod:`~streams.rules.milestones` — geofences, departures, arrivals, unloading, customs,
  delivery;
- :mod:`~streams.rules.deviation` — the route corridor;
- :mod:`~streams.rules.eta` — the estimated arrival and predicted delays;
- :mod:`~streams.rules.condition` — temperature and humidity excursions (consecutive and
  cumulative breaches, progress marks, mean kinetic temperature);
- :mod:`~streams.rules.evidence` — the evidence attached to events.
"""

from streams.rules.settings import DEFAULT_RULES, StreamRules

__all__ = ["DEFAULT_RULES", "StreamRules"]
