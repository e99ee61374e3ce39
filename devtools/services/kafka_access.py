"""Kafka's users and ACLs, made equal to :mod:`tradelane.principals` on a running broker.

The Python clients cannot create SCRAM users, so a small Java program
(``config/kafka/Provision.java``) does it with Kafka's own Admin client: compiled once into the
cache against the broker's jars, then fed the plan on stdin (passwords never appear in argv).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
from pathlib import Path

from devtools.services.base import CONFIG_DIR, require_tool, run_logged
from tradelane.credentials import ensure, load
from tradelane.errors import ServiceError
from tradelane.principals import SERVICE_PRINCIPALS, Grant, Principal, service_grants
from tradelane.settings import KafkaSettings
from tradelane.topics import TENANT_TOPIC_PREFIX, tenant_topic

CONTROLLER_USER = "controller"
"""The static PLAIN user of the KRaft controller listener (not a SCRAM user)."""
SCRAM_ITERATIONS = 8192
SOURCE = CONFIG_DIR / "kafka" / "Provision.java"


def scram_entry(user: str, password: str, iterations: int = SCRAM_ITERATIONS) -> str:
    """The storage tool's ``--add-scram`` value for ``user``, as a salted hash (RFC 5802's
    SaltedPassword), so the password itself is not on the formatting command line."""
    salt = secrets.token_bytes(32)
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return (
        f'SCRAM-SHA-512=[name={user},salt="{base64.b64encode(salt).decode()}",'
        f'saltedpassword="{base64.b64encode(salted).decode()}",iterations={iterations}]'
    )


def plan(passwords: dict[str, str], grants: tuple[Grant, ...]) -> str:
    """The provisioning program's stdin: a SCRAM user per service principal, every grant,
    and the principals whose other ACLs are removed."""
    lines = [f"scram\t{p.value}\t{passwords[p.value]}" for p in SERVICE_PRINCIPALS]
    lines += [
        f"acl\tUser:{g.principal.value}\t{g.resource}\t{g.pattern}\t{g.name}\t{g.operation}"
        for g in grants
    ]
    lines += [f"managed\tUser:{p.value}" for p in SERVICE_PRINCIPALS]
    return "\n".join(lines) + "\n"


def tenant_user(role: str, party: str) -> str:
    """The Kafka user of a bank's or insurer's own view: named after its view topic."""
    view = tenant_topic(role, party).name  # tenants.{role}.{slug}.{hash}
    return "tenant-" + view.removeprefix(f"{TENANT_TOPIC_PREFIX}.").replace(".", "-")


def tenant_grants(role: str, party: str) -> list[str]:
    """Plan lines granting a tenant READ on its own view topic and consumer groups named after
    itself, and nothing else (every other topic stays refused)."""
    user = tenant_user(role, party)
    topic = tenant_topic(role, party).name
    return [
        f"acl\tUser:{user}\tTOPIC\tLITERAL\t{topic}\tREAD",
        f"acl\tUser:{user}\tTOPIC\tLITERAL\t{topic}\tDESCRIBE",
        f"acl\tUser:{user}\tGROUP\tPREFIXED\t{user}\tREAD",
        f"acl\tUser:{user}\tGROUP\tPREFIXED\t{user}\tDESCRIBE",
    ]


COMPOSE_SCRIPT = CONFIG_DIR / "kafka" / "acls.sh"
_CLI_OPERATION = {
    "READ": "Read",
    "WRITE": "Write",
    "CREATE": "Create",
    "DESCRIBE": "Describe",
    "DESCRIBE_CONFIGS": "DescribeConfigs",
    "ALTER_CONFIGS": "AlterConfigs",
    "DELETE": "Delete",
}
_CLI_RESOURCE = {"TOPIC": "--topic", "GROUP": "--group", "TRANSACTIONAL_ID": "--transactional-id"}


def password_variable(principal: Principal) -> str:
    """The compose environment variable holding ``principal``'s Kafka password."""
    return f"KAFKA_{principal.value.upper()}_PASSWORD"


def compose_script(grants: tuple[Grant, ...]) -> str:
    """``config/kafka/acls.sh``: the same users and grants with Kafka's own command-line tools,
    for the compose stack's one-shot ``kafka-access`` service (a test keeps it equal to the
    grants)."""
    lines = [
        "#!/bin/bash",
        "# Generated from tradelane/principals.py by `tradelane access compose-script`; a test",
        "# checks it is current. Run by docker-compose's kafka-access service (apache/kafka).",
        "set -euo pipefail",
        'B="${KAFKA_BOOTSTRAP:-kafka:9092}"  # the cluster profile names its three brokers',
        "CFG=/tmp/admin.properties",
        "umask 077",
        'cat > "$CFG" <<EOF',
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=SCRAM-SHA-512",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required"
        ' username="admin" password="${KAFKA_ADMIN_PASSWORD:?}";',
        "EOF",
        "BIN=/opt/kafka/bin",
    ]
    for p in SERVICE_PRINCIPALS:
        var = password_variable(p)
        lines.append(
            f'$BIN/kafka-configs.sh --bootstrap-server $B --command-config "$CFG" --alter'
            f" --entity-type users --entity-name {p.value}"
            f' --add-config "SCRAM-SHA-512=[password=${{{var}:?set {var}}}]"'
        )
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for g in grants:
        key = (g.principal.value, g.resource.value, g.pattern.value, g.name)
        groups.setdefault(key, []).append(_CLI_OPERATION[g.operation.value])
    for (principal, resource, pattern, name), ops in groups.items():
        operations = " ".join(f"--operation {op}" for op in ops)
        lines.append(
            f'$BIN/kafka-acls.sh --bootstrap-server $B --command-config "$CFG" --add'
            f" --allow-principal User:{principal} {operations}"
            f" {_CLI_RESOURCE[resource]} '{name}' --resource-pattern-type {pattern.lower()}"
        )
    lines.append('echo "kafka-access: users and ACLs applied"')
    return "\n".join(lines) + "\n"


def _compiled(libs: Path, cache: Path, log: Path) -> Path:
    """The directory holding ``Provision.class``, compiled once per source version."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    classes = cache / "kafka" / "provision" / digest
    if not (classes / "Provision.class").exists():
        javac = require_tool("javac", "install a JDK 17+ (Debian: openjdk-17-jdk-headless)")
        classes.mkdir(parents=True, exist_ok=True)
        run_logged(
            [javac, "-d", str(classes), "-cp", f"{libs}/*", str(SOURCE)],
            log,
            "compiling the Kafka provisioning program",
            180,
        )
    return classes


def provision(settings: KafkaSettings, libs: Path, cache: Path, log: Path) -> str:
    """Create/refresh every service principal's SCRAM user and make the ACLs equal to the
    grants; returns the program's summary line. ``settings`` log in as the admin."""
    passwords = load(settings.keyring())
    missing = [p.value for p in Principal if p.value not in passwords]
    if missing:
        raise ServiceError(f"{settings.keyring()} has no password for {', '.join(missing)}")
    return _run(settings, libs, cache, log, plan(passwords, service_grants()))


def provision_tenant(
    settings: KafkaSettings, libs: Path, cache: Path, log: Path, role: str, party: str
) -> tuple[str, str]:
    """A Kafka user that may read only ``party``'s view topic: (user, password). The password
    is kept in the local keyring, so running it again keeps it."""
    user = tenant_user(role, party)
    password = ensure(settings.keyring(), (user,))[user]
    lines = [f"scram\t{user}\t{password}", *tenant_grants(role, party)]
    _run(settings, libs, cache, log, "\n".join(lines) + "\n")
    return user, password


def _run(settings: KafkaSettings, libs: Path, cache: Path, log: Path, stdin: str) -> str:
    login = settings.login()
    if login is None:
        raise ServiceError("provisioning Kafka needs SASL settings for the admin")
    classes = _compiled(libs, cache, log)
    java = require_tool("java", "install a JDK 17+")
    bootstrap = settings.bootstrap_servers
    proc = subprocess.run(
        [java, "-cp", f"{libs}/*:{classes}", "Provision", bootstrap, login[0]],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TRADELANE_PROVISION_PASSWORD": login[1]},
    )
    with log.open("a") as out:
        out.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-10:])
        raise ServiceError(f"provisioning Kafka users and ACLs failed:\n{tail}")
    return proc.stdout.strip()
