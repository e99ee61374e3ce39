"""Benchmarks that print figures (``tradelane bench …``); they assert nothing and ship in no
feature: each drives the real processes and services and reports rates, latencies and CPU."""
