"""Device-ecosystem adapters: each maps one real message format onto canonical readings.

Every adapter has the same shape (:class:`ingest.adapters.base.Adapter`): it says which MQTT
topics it understands and turns one message into readings, or refuses it with a reason. They
are pure: no I/O, no clock (the receive time is passed in).
"""
