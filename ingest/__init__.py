"""MQTT → Kafka ingest: the bridge from tracker messages to ``tracker.readings``."""
