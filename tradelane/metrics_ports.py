"""Where each process serves its Prometheus metrics, and where Prometheus listens.

Constants only, in the kernel: the CLI's option defaults, the Prometheus service's scrape
targets and the docs all name the same ports (docs/operations.md, "Metrics").
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
"""Loopback by default: the series name tenants and loops; exposing them is a choice."""

DEFAULT_PORTS: dict[str, int] = {
    "bridge": 9108,
    "worker": 9109,
    "sink": 9110,
    "webhooks": 9111,
    "simulator": 9112,
    "api": 9113,
}
"""The port each process serves /metrics on unless told otherwise (Prometheus scrapes these)."""

PROMETHEUS_PORT = 9090
