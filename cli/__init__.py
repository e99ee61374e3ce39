"""The ``tradelane`` command line: the composition root.

Only this package (and nothing else in the kernel) reaches into ``ingest``, ``streams``,
``finance`` and ``devices``, and only lazily inside a command, so ``tradelane --help`` and the
kernel stay importable without them.
"""
