"""The one way to reach the brokers: Kafka clients (``kafka.py``, ``admin.py``), MQTT clients
(``mqtt.py``) and readiness probes (``probes.py``). Features build no client of their own."""
