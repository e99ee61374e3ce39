"""Tradelane kernel: the wire contracts, topic names, settings and CLI that every other package
(``ingest``, ``streams``, ``finance``, ``devices``) imports.

The kernel imports none of those packages at module level, so each of them can be deployed,
tested and reasoned about on its own while agreeing on one set of contracts.
"""

__version__ = "0.1.0"
