"""Who may do what on Kafka: one principal per service and exactly the grants it needs.

Kafka runs with ``allow.everyone.if.no.acl.found=false``: a principal can do only what a grant
below allows. The grants are data (pure, unit-tested against :mod:`tradelane.topics`), and
``tradelane services up`` (or ``tradelane kafka provision`` against any cluster) makes the
broker's ACLs equal to them.

The commands that move money (``finance.commands``, ``insurance.commands``) are written by the
worker alone: a repayment or claim decision that any other client writes is refused by the
broker. The worker's own resources (its state changelogs, routing topics, consumer groups and
transactional ids) all start with its app id, ``tradelane-streams`` by default: a worker with
another ``--app-id`` needs a grant of its own (``WORKER_PREFIX``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tradelane.topics import (
    API_SHARES,
    FINANCE_CHECKPOINTS,
    FINANCE_COMMANDS,
    FINANCE_EVENTS,
    FINANCE_FACILITIES,
    FINANCE_LEDGER,
    FINANCE_REQUESTS,
    FX_RATES,
    INSURANCE_CLAIMS,
    INSURANCE_COMMANDS,
    INSURANCE_POLICIES,
    SHIPMENTS_EVENTS,
    SHIPMENTS_REGISTRY,
    TENANT_TOPIC_PREFIX,
    TRACKER_DEADLETTER,
    TRACKER_READINGS,
    TRACKER_STATUS,
    WEBHOOKS_DELIVERIES,
    WEBHOOKS_SUBSCRIPTIONS,
    WORKERS_LEASE,
    KafkaTopic,
)

WORKER_PREFIX = "tradelane-streams"

MQTT_ADMIN = "tradelane-admin"
"""The MQTT broker's administrator login (dynamic security, provisioning)."""
MQTT_BRIDGE = "tradelane-bridge"
"""The bridge's MQTT login: subscribes to every tracker's topics."""
MQTT_GATEWAY = "tradelane-gateway"
"""The login a gateway (one connection for many trackers) publishes with."""
"""The worker's app id, and the prefix of every topic, group and transactional id it owns."""


class Principal(StrEnum):
    """A Kafka user (SCRAM user name ``User:<value>``)."""

    ADMIN = "admin"
    """Super user: creates topics, provisions the others, runs tools and tests."""
    BRIDGE = "bridge"
    WORKER = "worker"
    SINK = "sink"
    API = "api"
    WEBHOOKS = "webhooks"
    SIMULATOR = "simulator"
    """The outside world in tests and demos: bookings, facility terms, policies, FX rates."""


SERVICE_PRINCIPALS = tuple(p for p in Principal if p is not Principal.ADMIN)


class Resource(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"


class Pattern(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DESCRIBE = "DESCRIBE"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    ALTER_CONFIGS = "ALTER_CONFIGS"
    DELETE = "DELETE"


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: ``principal`` may do ``operation`` on the resource (allow, from any host)."""

    principal: Principal
    resource: Resource
    pattern: Pattern
    name: str
    operation: Operation


USE = (Operation.DESCRIBE, Operation.CREATE, Operation.DESCRIBE_CONFIGS)
"""Every service may create the topics it uses, with their declared layout (it ensures them at
start, so whichever process meets a fresh cluster first sets it up), and see their configs."""
READ = (Operation.READ, *USE)
WRITE = (Operation.WRITE, *USE)
GROUP = (Operation.READ, Operation.DESCRIBE)
OWN = (Operation.READ, Operation.WRITE, *USE, Operation.ALTER_CONFIGS, Operation.DELETE)

READS: dict[Principal, tuple[KafkaTopic, ...]] = {
    Principal.WORKER: (
        TRACKER_READINGS,
        TRACKER_STATUS,
        SHIPMENTS_REGISTRY,
        FINANCE_FACILITIES,
        FINANCE_COMMANDS,
        FINANCE_REQUESTS,
        INSURANCE_POLICIES,
        INSURANCE_COMMANDS,
        FX_RATES,
        WORKERS_LEASE,
    ),
    Principal.SINK: (TRACKER_READINGS, SHIPMENTS_REGISTRY),
    Principal.API: (
        TRACKER_READINGS,
        SHIPMENTS_REGISTRY,
        SHIPMENTS_EVENTS,
        FINANCE_FACILITIES,
        FINANCE_EVENTS,
        FINANCE_COMMANDS,
        FINANCE_REQUESTS,
        FINANCE_LEDGER,
        FINANCE_CHECKPOINTS,
        INSURANCE_POLICIES,
        INSURANCE_CLAIMS,
        FX_RATES,
        WEBHOOKS_SUBSCRIPTIONS,
        WEBHOOKS_DELIVERIES,
        API_SHARES,
    ),
    Principal.WEBHOOKS: (
        SHIPMENTS_REGISTRY,
        SHIPMENTS_EVENTS,
        FINANCE_FACILITIES,
        FINANCE_EVENTS,
        INSURANCE_POLICIES,
        INSURANCE_CLAIMS,
        WEBHOOKS_SUBSCRIPTIONS,
        WEBHOOKS_DELIVERIES,
    ),
    Principal.SIMULATOR: (),
    Principal.BRIDGE: (),
}
"""The topics each service reads (and nothing else)."""

WRITES: dict[Principal, tuple[KafkaTopic, ...]] = {
    Principal.BRIDGE: (TRACKER_READINGS, TRACKER_STATUS, TRACKER_DEADLETTER),
    Principal.WORKER: (
        SHIPMENTS_EVENTS,
        FINANCE_EVENTS,
        FINANCE_COMMANDS,
        FINANCE_LEDGER,
        FINANCE_CHECKPOINTS,
        INSURANCE_CLAIMS,
        INSURANCE_COMMANDS,
        TRACKER_DEADLETTER,
        WORKERS_LEASE,
    ),
    Principal.SINK: (TRACKER_DEADLETTER,),
    Principal.API: (WEBHOOKS_SUBSCRIPTIONS, API_SHARES, FINANCE_REQUESTS, TRACKER_DEADLETTER),
    Principal.WEBHOOKS: (WEBHOOKS_DELIVERIES, WEBHOOKS_SUBSCRIPTIONS, TRACKER_DEADLETTER),
    Principal.SIMULATOR: (SHIPMENTS_REGISTRY, FINANCE_FACILITIES, INSURANCE_POLICIES, FX_RATES),
}
"""The topics each service writes. Money commands appear under the worker only."""


def topics_of(principal: Principal) -> tuple[KafkaTopic, ...]:
    """The topics ``principal`` reads or writes, in declaration order: what a service ensures
    exists at start (it may create only those)."""
    return tuple(dict.fromkeys((*READS.get(principal, ()), *WRITES.get(principal, ()))))


GROUP_PREFIXES: dict[Principal, str] = {
    Principal.WORKER: WORKER_PREFIX,
    Principal.SINK: "tradelane-sink",
    Principal.API: "tradelane-api",
    Principal.WEBHOOKS: "tradelane-webhooks",
}
"""Consumer groups each service may join, by prefix (a service's groups all start so)."""


def _topic_grants(principal: Principal, topic: str, ops: tuple[Operation, ...]) -> list[Grant]:
    return [Grant(principal, Resource.TOPIC, Pattern.LITERAL, topic, op) for op in ops]


def _prefixed(
    principal: Principal, resource: Resource, prefix: str, ops: tuple[Operation, ...]
) -> list[Grant]:
    return [Grant(principal, resource, Pattern.PREFIXED, prefix, op) for op in ops]


def service_grants(worker_prefix: str = WORKER_PREFIX) -> tuple[Grant, ...]:
    """Every service principal's grants, sorted and without duplicates."""
    out: set[Grant] = set()
    for principal, topics in READS.items():
        for topic in topics:
            out.update(_topic_grants(principal, topic.name, READ))
    for principal, topics in WRITES.items():
        for topic in topics:
            out.update(_topic_grants(principal, topic.name, WRITE))
    for principal, prefix in GROUP_PREFIXES.items():
        name = worker_prefix if principal is Principal.WORKER else prefix
        out.update(_prefixed(principal, Resource.GROUP, name, GROUP))
    # the worker owns its internal topics (changelogs, routing) and its transactional ids
    out.update(_prefixed(Principal.WORKER, Resource.TOPIC, worker_prefix, OWN))
    out.update(
        _prefixed(
            Principal.WORKER,
            Resource.TRANSACTIONAL_ID,
            worker_prefix,
            (Operation.WRITE, Operation.DESCRIBE),
        )
    )
    # the webhook worker writes each tenant's Kafka view (tenants.{role}.{party}.{hash})
    out.update(_prefixed(Principal.WEBHOOKS, Resource.TOPIC, f"{TENANT_TOPIC_PREFIX}.", WRITE))
    return tuple(sorted(out))


def can(grants: tuple[Grant, ...], principal: Principal, operation: Operation, topic: str) -> bool:
    """Whether ``grants`` let ``principal`` do ``operation`` on ``topic`` (as the broker decides:
    a literal name or a prefix matches; ``DESCRIBE`` is implied by read/write)."""
    implied = {operation}
    if operation is Operation.DESCRIBE:
        implied |= {Operation.READ, Operation.WRITE}
    for g in grants:
        if g.principal is not principal or g.resource is not Resource.TOPIC:
            continue
        matches = g.name == topic if g.pattern is Pattern.LITERAL else topic.startswith(g.name)
        if matches and g.operation in implied:
            return True
    return False
