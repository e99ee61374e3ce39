"""The root of Tradelane's exceptions, and the one question every retry loop asks of them.

Every error this code raises on purpose derives from :class:`TradelaneError`, and carries a
class attribute ``retriable``: whether trying the same thing again later can succeed. A retry
loop (:func:`tradelane.retry.retrying`) retries exactly the retriable ones and lets the others
through at once, so a bad argument or a refused grant fails fast while a broker restart is
waited out. Errors of libraries (aiokafka, paho, httpx, OSError) are classified by each
transport's own ``retriable`` predicate, next to the client that raises them.

The tree, one branch per concern (subclasses live next to the code that raises them;
``R`` marks the retriable ones)::

    TradelaneError                      tradelane.errors (not retriable unless a class says so)
    ├── ServiceError  R                 a service could not be installed, started or reached
    │   ├── RetryDeadlineError  R       tradelane.retry: still failing at the retry deadline
    │   │   └── KafkaNotReadyError  R   transport.kafka: Kafka not ready by the deadline
    │   ├── BridgeFailedError  R        ingest.bridge: Kafka refused a record (restart resends)
    │   ├── ReadBusyError  R            api.off_loop: a read could not be answered now
    │   ├── ChildFailedError  R         devtools.children: a child process did not come up
    │   ├── CredentialsError            tradelane.credentials: no credentials for a principal
    │   ├── MissingSigningKeyError      finance.ledger_keys: no ledger signing key configured
    │   ├── KeyFormatError              finance.ledger_keys: not an Ed25519 key (also ValueError)
    │   └── MissingKeyError             webhooks.sealing: no encryption key configured
    ├── UsageError                      the command line or configuration asks the impossible
    │   └── InsecureConfigError         api.app: public demo keys on a public address
    ├── ContractError                   input that breaks a contract (a ValueError)
    │   ├── Rejected                    ingest.adapters.base: a payload refused, with a reason
    │   ├── InvalidKeyError             tradelane.deadletters: a record key that is not a key
    │   ├── PlanError                   finance.repayment_plan: a plan that does not add up
    │   ├── SignatureError (+4 kinds)   webhooks.signing: a signature that does not verify
    │   ├── SealingError                webhooks.sealing: a record that cannot be opened
    │   ├── DestinationRefusedError     webhooks.address: a webhook URL not allowed
    │   └── CapReachedError             webhooks.store: a tenant at its subscription cap
    ├── OwnershipError                  another process holds what this one needs
    │   ├── NotOwnedError               streams.transactions: fenced, the partitions moved on
    │   ├── LeaseHeldError              streams.lease: another worker holds the lease
    │   └── SecondWorkerGroupError      streams.guard: a worker group of another name runs
    ├── RecordFailedError               streams.loop: a rule failed on a well-formed record
    │                                   (the loop restarts and dead-letters it; not retried)
    └── RefusedAddressError             webhooks.pinning: a resolved address refused (an
                                        OSError, so aiohttp reports it as a connection error;
                                        not a ContractError, whose ValueError aiohttp would not
                                        expect; the delivery is recorded refused, not retried)

The ServiceErrors that are configuration (credentials, keys) set ``retriable = False``:
they stop a process from starting, but no amount of waiting brings a missing key.

Left outside the tree, on purpose:

- ``api.body_limit.BodyTooLarge`` and ``api.deps.TooManyRequests`` are HTTP answers
  (starlette's ``HTTPException``: 413 and 429 with ``Retry-After``), raised only to be turned
  into a response by the framework; nothing of ours catches them, and mixing in a
  ``ValueError`` branch would let a route's ``except ValueError`` swallow the answer.
- ``streams.loop._Replay`` is a control-flow signal (restart from the last commit at once,
  a record was quarantined) that never leaves :class:`streams.loop.PartitionLoop`; it is not
  a failure, and a generic ``except TradelaneError`` must never catch it.
- Library errors (aiokafka, paho, httpx, aiohttp, OSError) keep their own classes; each
  transport classifies them with its predicate (:func:`transport.kafka.kafka_retriable`).
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
