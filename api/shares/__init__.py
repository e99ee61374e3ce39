"""Read-only links to one shipment: pure cores (tokens, rules, the shared view, the fold of
``api.shares``) and thin shells (the Kafka store, the routes). See docs/api.md, "Sharing a
shipment"."""
