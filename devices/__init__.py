"""Tracker fleet simulator: shipments, routes, sensor models and MQTT publishers."""
