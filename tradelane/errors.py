"""The root of Tradelane's exceptions, and the one question every retry loop asks of them.

Every error this code raises on purpose derives from :class:`TradelaneError`, and carries a
class attribute ``retriable``: whether trying the same thing again later can succeed. A retry
loop (:func:`tradelane.retry.retrying`) retries exactly the retriable ones and lets the others
through at once, so a bad argument or a refused grant fails fast while a broker restart is
waited out. Errors of libraries (aiokafka, paho, httpx, OSError) are classified by each
transport's own ``retriable`` predicate, next to the client that raises them.

The tree, one branch per concern (subclasses live next to the code that raises them):

- :class:`ServiceError` — a service could not be installed, started or reached (retriable:
  the service may come up); :class:`UsageError` — the command line or configuration asks for
  something impossible (never retriable; the message says what to change).
- :class:`ContractError` — input that breaks a contract: a bad key, a plan that does not add
  up, a refused destination (never retriable: the same input fails the same way).
- :class:`OwnershipError` — another process holds what this one needs: a lease, a
  transactional id, a worker group (not retriable by this process: it must stand down).
"""

from __future__ import annotations


class TradelaneError(Exception):
    """Root of every error raised on purpose; ``retriable`` says whether a retry can help."""

    retriable: bool = False


class ServiceError(TradelaneError, RuntimeError):
    """A service could not be installed, started or reached; the message says what to do."""

    retriable = True


class UsageError(TradelaneError, ValueError):
    """A command line or configuration asks for something impossible; retrying cannot help."""


class ContractError(TradelaneError, ValueError):
    """Input that breaks a contract; the same input always fails the same way."""


class OwnershipError(TradelaneError, RuntimeError):
    """Another process owns what this one needs; this one must stand down, not retry."""
