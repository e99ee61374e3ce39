"""In-memory stand-ins for the services the shells talk to, for fast unit tests."""
