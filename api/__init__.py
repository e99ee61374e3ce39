"""The HTTP face of Tradelane: REST, live feed (WebSocket and SSE) and the operators' dashboard.

``api`` builds its own read model by following the Kafka topics (:mod:`api.consumer`, folding
records with the pure :mod:`api.projection`), reads history from InfluxDB (:mod:`api.history`),
and serves everything with FastAPI (:mod:`api.app`). Access is by API key (:mod:`api.auth`).
"""
