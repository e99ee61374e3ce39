"""Outbound webhooks for banks, insurers and borrowers: the ``tradelane webhooks`` process.

Its own package because it is its own process: it reads the event topics and the registries,
and POSTs signed CloudEvents to subscribers. Pure cores (``signing``, ``audience``, ``retry``,
``offsets``, ``delivery``, ``camt054``, ``lifecycle``, ``address``) hold every rule; ``worker``
and ``store`` are the thin Kafka and HTTP shells around them (docs/webhooks.md). The API's
routes for managing subscriptions live in the API (``api/routes_webhooks.py``).
"""
