"""The ``tradelane`` command line: the composition root, one module per command.

It may import every package; each command imports what it runs lazily, inside the command,
so ``tradelane --help`` stays fast and works without the optional parts installed.
"""
