"""Tradelane's kernel: the wire contracts, topic names, settings, ids, roles, tenancy and errors
that every other package imports.

It imports no other package of ours and no broker or database client (tests/unit/test_layout.py
holds the whole import matrix), so each package can be deployed, tested and reasoned about on
its own while agreeing on one set of contracts.
"""

__version__ = "0.1.0"
