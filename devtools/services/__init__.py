"""Local real services for development and CI: Mosquitto, Apache Kafka (KRaft) and InfluxDB 2.x,
plus the pip-installable embedded brokers the demo falls back to.

Each service module knows how to install (or fetch/build into the cache), start, health-check
and stop one service, on loopback only, with its data under the project-local home folder.
"""
