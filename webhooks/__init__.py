"""Outbound webhooks for banks and insurers: subscriptions, Standard Webhooks signing, the
CloudEvents delivery body and the delivery worker.

The HTTP face owns outbound HTTP too. Pure cores (``signing``, ``matching``, ``retry``) hold
every rule; ``worker`` is the thin Kafka and HTTP shell around them (docs/webhooks.md).
"""
