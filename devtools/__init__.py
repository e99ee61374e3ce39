"""Tooling for running Tradelane on one machine: the local real services (``tradelane services``),
the demo's embedded brokers, device provisioning on the local broker and child processes."""
