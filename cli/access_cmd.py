"""``tradelane access``: identities on the local brokers (devices, tenants, service users)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DESCRIPTION = """\
Who may talk to the brokers that `tradelane services up` runs on this machine. Those brokers
refuse anonymous clients: every service logs in as its own user with the grants of
tradelane/principals.py (Kafka) and config/mosquitto/acl (MQTT), passwords in the local keyring
($TRADELANE_HOME/secrets, mode 0600). `services up` provisions the service users; use this
command for the rest:

  tradelane access devices trk-001 trk-002 --write creds.txt   # MQTT users for real devices
  tradelane access device-cert trk-001 --out certs/             # or a certificate (mutual TLS)
  tradelane access tenant --role bank --party bank-a            # a bank's read-only Kafka view
  tradelane access kafka                                        # re-apply the service grants
  tradelane access compose-script                               # the same grants for compose

A simulated fleet provisions its own devices. Against brokers this machine does not run,
create users with the brokers' own tools (docs/security.md has the equivalents).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "access",
        help="provision MQTT devices, device certificates and Kafka tenant users locally",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    devices = actions.add_parser(
        "devices",
        help="let devices log in to the local Mosquitto (user = device id)",
        description="Add devices to the local Mosquitto's password file (each may publish "
        "only under tradelane/v1/trackers/<its id>/) and print 'device_id password' lines, or "
        "write them to --write FILE (mode 0600). Passwords derive from the machine's fleet "
        "secret, so running it again prints the same ones.",
    )
    devices.add_argument("device_ids", nargs="+", metavar="DEVICE_ID")
    devices.add_argument("--write", type=Path, metavar="FILE", help="write the lines here")
    devices.set_defaults(handler=_devices)
    cert = actions.add_parser(
        "device-cert",
        help="issue a client certificate for the mutual-TLS listener",
        description="A certificate signed by the local CA whose common name is DEVICE_ID: on "
        "Mosquitto's mutual-TLS listener (TRADELANE_MQTT_MTLS_PORT, default 8884) it logs "
        "the device in as itself, without a password.",
    )
    cert.add_argument("device_id", metavar="DEVICE_ID")
    cert.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    cert.set_defaults(handler=_device_cert)
    tenant = actions.add_parser(
        "tenant",
        help="a Kafka user that reads only one bank's, insurer's or borrower's view topic",
        description="Create (or keep) the Kafka user of a tenant's view, tenants.ROLE.PARTY.*, "
        "fed by `tradelane webhooks` with tenant views on. Prints the user, its password and "
        "its topic; the tenant can read that topic and nothing else.",
    )
    tenant.add_argument("--role", required=True, choices=("bank", "insurer", "borrower"))
    tenant.add_argument(
        "--party", required=True, help="the bank's, insurer's or borrower's party id"
    )
    tenant.set_defaults(handler=_tenant)
    kafka = actions.add_parser(
        "kafka",
        help="re-apply the service users and grants on the local Kafka",
        description="Make the local Kafka's SCRAM users and ACLs equal to "
        "tradelane/principals.py (what `services up` does after Kafka starts).",
    )
    kafka.set_defaults(handler=_kafka)
    script = actions.add_parser(
        "compose-script",
        help="regenerate config/kafka/acls.sh (compose's users and ACLs) from the grants",
        description="Write config/kafka/acls.sh, the kafka-configs/kafka-acls commands the "
        "compose stack's kafka-access service runs, from tradelane/principals.py.",
    )
    script.set_defaults(handler=_compose_script)
    secrets = actions.add_parser(
        "compose-secrets",
        help="create the secrets docker-compose.yml requires (once per stack)",
        description="Write random passwords (compose.env), Mosquitto's password file and TLS "
        "certificates, and an API key file with one operator key (printed once) under --out. "
        "Then: docker compose --env-file OUT/compose.env up -d. Refuses to overwrite.",
    )
    secrets.add_argument("--out", type=Path, default=Path("secrets"), help="default: secrets")
    secrets.set_defaults(handler=_compose_secrets)


def _devices(args: argparse.Namespace) -> int:
    from devtools.services.mosquitto import Mosquitto
    from devtools.services.mosquitto_access import keyring
    from tradelane import credentials
    from tradelane.settings import ServicesSettings

    services = ServicesSettings()
    broker = Mosquitto(services)
    added = broker.add_devices(args.device_ids)
    secret = keyring(services.home)[credentials.FLEET_SECRET]
    lines = [f"{d} {credentials.device_password(secret, d)}\n" for d in args.device_ids]
    if args.write is not None:
        fd = os.open(args.write, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.writelines(lines)
    else:
        print("".join(lines), end="")
    running = broker.process.pid() is not None
    state = "reloaded" if running else "not running: takes effect when it starts"
    print(f"{added} new of {len(args.device_ids)} devices; Mosquitto {state}", flush=True)
    return 0


def _device_cert(args: argparse.Namespace) -> int:
    from devtools.services import tls
    from devtools.services.mosquitto import Mosquitto
    from tradelane.settings import ServicesSettings

    broker = Mosquitto(ServicesSettings())
    ca = tls.ensure_ca(broker.tls_dir)
    pair = tls.issue(ca, args.out, args.device_id, server=False)
    print(f"certificate {pair.cert}\nkey         {pair.key}\nCA          {ca.cert}")
    return 0


def _tenant(args: argparse.Namespace) -> int:
    from devtools.services.kafka import Kafka
    from devtools.services.kafka_access import provision_tenant
    from tradelane.settings import ServicesSettings
    from tradelane.topics import tenant_topic

    broker = Kafka(ServicesSettings())
    user, password = provision_tenant(
        broker.kafka, broker.libs, broker.cache, broker.process.log_file, args.role, args.party
    )
    print(
        f"user     {user}\npassword {password}\ntopic    {tenant_topic(args.role, args.party).name}"
    )
    return 0


def _kafka(_args: argparse.Namespace) -> int:
    from devtools.services.kafka import Kafka
    from devtools.services.kafka_access import provision
    from tradelane.settings import ServicesSettings

    broker = Kafka(ServicesSettings())
    print(provision(broker.kafka, broker.libs, broker.cache, broker.process.log_file))
    return 0


def _compose_script(_args: argparse.Namespace) -> int:
    from devtools.services.kafka_access import COMPOSE_SCRIPT, compose_script
    from tradelane.principals import service_grants

    COMPOSE_SCRIPT.write_text(compose_script(service_grants()))
    COMPOSE_SCRIPT.chmod(0o755)
    print(f"wrote {COMPOSE_SCRIPT}")
    return 0


def _compose_secrets(args: argparse.Namespace) -> int:
    import sys

    from api.auth import KeyEntry, hash_key, new_key
    from cli.api_cmd import _write_key_file
    from devtools.services.compose_secrets import write

    written = write(args.out)
    key_id, key = new_key()
    entry = KeyEntry(id=key_id, hash=hash_key(key), role="operator", name="compose operator")
    keys = args.out / "api-keys.yaml"
    _write_key_file(keys, [entry.model_dump(mode="json", exclude_none=True)])
    for path in (*written, keys):
        print(f"wrote {path}", file=sys.stderr)
    print(
        f"operator API key {key_id} (shown once; add more with `tradelane api keys add --file "
        f"{keys}`):",
        file=sys.stderr,
    )
    print(key, flush=True)
    return 0
