"""docker-compose.yml cannot run here (no Docker engine), so it is checked by reading: it
parses, every TRADELANE_* variable it sets is a real setting, ports line up with the settings
and the brokers' listeners, and every app command is a real CLI subcommand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from api.settings import ApiSettings
from cli.main import build_parser
from devtools.services.compose_secrets import environment
from devtools.services.kafka_access import compose_script, password_variable
from tradelane.principals import Principal, service_grants
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings, env_vars
from webhooks.settings import WebhookSettings

ROOT = Path(__file__).resolve().parents[2]
# App commands the compose file already names whose issue has not landed yet.
# Remove an entry as soon as its command exists (the last test enforces that).
NOT_YET_BUILT: dict[str, str] = {}


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def app_services(profile: str | None = None) -> dict[str, dict[str, Any]]:
    """The app services of the single-broker stack, or those of ``profile`` "cluster"."""
    return {
        n: s
        for n, s in compose()["services"].items()
        if s.get("image") == "tradelane:local"
        and (profile == "cluster") == ("cluster" in s.get("profiles", []))
    }


def cli_commands() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(sub.choices, dict)
    return set(sub.choices)


def host_port(service: dict[str, Any]) -> int:
    mapping = service["ports"][0]
    return int(mapping.split(":")[-2])


def _settings_env(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in cls.model_fields}


def test_app_env_names_are_real_settings() -> None:
    known = set(env_vars()) | _settings_env(ApiSettings) | _settings_env(WebhookSettings)
    for name, service in app_services().items():
        unknown = {k for k in service["environment"] if k.startswith("TRADELANE_")} - known
        assert not unknown, f"{name}: {unknown} are not read by tradelane/settings.py"


def test_app_services_reach_brokers_on_their_listening_ports() -> None:
    services = compose()["services"]
    env = next(iter(app_services().values()))["environment"]
    mqtt = urlsplit(env["TRADELANE_MQTT_URL"])
    assert mqtt.hostname in services
    assert mqtt.port == 1883
    kafka_host, kafka_port = env["TRADELANE_KAFKA_BOOTSTRAP_SERVERS"].split(":")
    assert kafka_host in services
    start = _properties(START_SCRIPT.read_text(), services[kafka_host]["environment"])
    protocol = env["TRADELANE_KAFKA_SECURITY_PROTOCOL"]
    assert start["advertised.listeners"] == f"{protocol}://{kafka_host}:{kafka_port}"
    assert start["listeners"].startswith(f"{protocol}://:{kafka_port},")
    influx = urlsplit(env["TRADELANE_INFLUX_URL"])
    assert influx.hostname in services
    assert (
        services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_ORG"]
        == env["TRADELANE_INFLUX_ORG"]
    )
    assert (
        services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_BUCKET"]
        == env["TRADELANE_INFLUX_BUCKET"]
    )


def test_published_ports_match_the_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in env_vars():
        monkeypatch.delenv(name, raising=False)
    services = compose()["services"]
    assert host_port(services["mosquitto"]) == MqttSettings().port
    assert host_port(services["kafka"]) == int(KafkaSettings().bootstrap_servers.split(":")[1])
    assert host_port(services["influxdb"]) == urlsplit(InfluxSettings().url).port
    for service in services.values():
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), f"{mapping} would listen beyond loopback"


def test_brokers_have_healthchecks_and_apps_wait_for_them() -> None:
    services = compose()["services"]
    for broker in ("mosquitto", "kafka", "influxdb"):
        assert "healthcheck" in services[broker]
    for name, service in app_services().items():
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy", name


def test_every_app_command_is_a_cli_subcommand_or_named_as_pending() -> None:
    commands = cli_commands()
    for name, service in app_services().items():
        command = service["command"][0]
        assert command in commands or command in NOT_YET_BUILT, f"{name}: {command}"
    built_but_listed = {c for c in NOT_YET_BUILT if c in commands}
    assert not built_but_listed, f"remove from NOT_YET_BUILT: {built_but_listed}"


PRINCIPAL_OF = {
    "bridge": Principal.BRIDGE,
    "sink": Principal.SINK,
    "worker": Principal.WORKER,
    "api": Principal.API,
    "webhooks": Principal.WEBHOOKS,
    "simulator": Principal.SIMULATOR,
    "topics": Principal.ADMIN,
}


def test_each_app_logs_in_to_kafka_as_its_own_user() -> None:
    for name, service in app_services().items():
        env = service["environment"]
        principal = PRINCIPAL_OF[name]
        assert env["TRADELANE_KAFKA_SECURITY_PROTOCOL"].startswith("SASL"), name
        assert env["TRADELANE_KAFKA_USERNAME"] == principal.value, name
        assert env["TRADELANE_KAFKA_PASSWORD"].startswith(f"${{{password_variable(principal)}:?"), (
            name
        )


def test_the_compose_acl_script_is_the_grants() -> None:
    script = (ROOT / "config" / "kafka" / "acls.sh").read_text()
    assert script == compose_script(service_grants()), "run `tradelane access compose-script`"


def test_every_required_secret_is_made_by_compose_secrets() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    script = (ROOT / "config" / "kafka" / "acls.sh").read_text()
    required |= set(re.findall(r"\$\{([A-Z_]+):\?", script))
    assert required, "compose requires no secret?"
    assert not required - set(environment()), required - set(environment())
    assert not re.search(r"\$\{[A-Z_]*(PASSWORD|TOKEN|KEYS)[A-Z_]*:-", text), "a default secret"


def test_no_shipped_mqtt_config_accepts_anonymous_clients_beyond_loopback() -> None:
    for path in (ROOT / "config" / "mosquitto").glob("*.conf"):
        lines = [ln.split() for ln in path.read_text().splitlines() if ln and ln[0] != "#"]
        anonymous = ["allow_anonymous", "true"] in lines
        listeners = [ln for ln in lines if ln and ln[0] == "listener"]
        assert listeners, path.name
        if anonymous:
            assert all(ln[-1] == "127.0.0.1" for ln in listeners), path.name


def test_the_api_serves_hashed_keys_from_a_file() -> None:
    api = app_services()["api"]
    assert api["environment"]["TRADELANE_API_KEYS_FILE"].startswith("/run/secrets/")
    assert any("api-keys.yaml" in v for v in api["volumes"])


def test_grafana_runs_the_pinned_release_its_dashboards_are_validated_for() -> None:
    """The image tag is the @grafana/schema version tools/grafana-schema generates the
    dashboard schema from (tests/unit/grafana): bump both together."""
    grafana = compose()["services"]["grafana"]
    match = re.fullmatch(r"grafana/grafana:(\d+\.\d+\.\d+)", grafana["image"])
    assert match, f"{grafana['image']}: pin an exact release"
    package = json.loads((ROOT / "tools" / "grafana-schema" / "package.json").read_text())
    assert package["dependencies"]["@grafana/schema"] == match[1], "bump the schema with the image"


def test_grafana_is_provisioned_from_config_and_waits_for_its_sources() -> None:
    services = compose()["services"]
    grafana = services["grafana"]
    assert "./config/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert grafana["depends_on"]["influxdb"]["condition"] == "service_healthy"
    if "prometheus" in services:
        assert "prometheus" in grafana["depends_on"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_grafana_reads_influxdb_as_the_sink_writes_it() -> None:
    grafana = compose()["services"]["grafana"]["environment"]
    sink = app_services()["sink"]["environment"]
    for name in ("TRADELANE_INFLUX_URL", "TRADELANE_INFLUX_ORG", "TRADELANE_INFLUX_BUCKET"):
        assert grafana[name] == sink[name], name
    assert grafana["TRADELANE_INFLUX_TOKEN"].startswith("${TRADELANE_INFLUX_TOKEN:?")
    provisioning = ROOT / "config" / "grafana" / "provisioning"
    for path in provisioning.rglob("*.yml"):
        text = "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))
        used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text))
        assert used <= set(grafana), f"{path.name}: {used - set(grafana)} unset in compose"


CLUSTER_NODES = ("kafka-1", "kafka-2", "kafka-3")


def _properties(script: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The ``key=value`` lines a compose start script writes into server.properties, with
    the ``${VAR:-default}`` settings it reads resolved from ``env`` (a service's environment)
    or their defaults; other variables (the passwords) stay as written."""
    env = env or {}
    settings = {
        name: env.get(var, default)
        for name, var, default in re.findall(
            r'^([A-Z_]+)="\$\{([A-Z_]+):-([^}]*)\}"$', script, re.M
        )
    }
    lines = dict(
        line.split("=", 1)
        for line in script.splitlines()
        if re.fullmatch(r"[a-z][a-z0-9_.-]*=.*", line)
    )
    return {
        key: re.sub(r"\$\{([A-Z_]+)\}", lambda m: settings.get(m[1], m[0]), value)
        for key, value in lines.items()
    }


START_SCRIPT = ROOT / "config" / "kafka" / "compose-start.sh"


def test_the_single_broker_is_node_1_with_one_replica() -> None:
    node = _properties(START_SCRIPT.read_text(), compose()["services"]["kafka"]["environment"])
    assert node["node.id"] == "1"
    assert node["controller.quorum.voters"] == "1@kafka:9093"
    assert node["advertised.listeners"] == "SASL_PLAINTEXT://kafka:9092"
    assert node["default.replication.factor"] == node["min.insync.replicas"] == "1"


def test_the_cluster_profile_runs_three_brokers_secured_like_the_single_one() -> None:
    services = compose()["services"]
    script = START_SCRIPT.read_text()
    single = _properties(script, services["kafka"]["environment"])
    ids = []
    for n, name in enumerate(CLUSTER_NODES, start=1):
        service = services[name]
        assert service["profiles"] == ["cluster"], name
        assert service["image"] == services["kafka"]["image"], name
        assert "healthcheck" in service, name
        assert service["command"] == services["kafka"]["command"], name
        assert any("compose-start.sh" in v for v in service["volumes"]), name
        env = service["environment"]
        ids.append(env["KAFKA_NODE_ID"])
        node = _properties(script, env)
        assert node["node.id"] == str(n)
        assert node["controller.quorum.voters"] == ",".join(
            f"{i}@{other}:9093" for i, other in enumerate(CLUSTER_NODES, start=1)
        )
        assert node["advertised.listeners"] == f"SASL_PLAINTEXT://{name}:9092"
        secured = [k for k in single if k.startswith(("sasl.", "listener", "authorizer", "super"))]
        secured += ["allow.everyone.if.no.acl.found", "inter.broker.listener.name"]
        assert {k: node[k] for k in secured} == {k: single[k] for k in secured}
        for key in ("default.replication.factor", "offsets.topic.replication.factor"):
            assert node[key] == "3", key
        assert node["transaction.state.log.replication.factor"] == "3"
        assert node["min.insync.replicas"] == node["transaction.state.log.min.isr"] == "2"
    assert ids == ["1", "2", "3"]
    assert len({services[n]["environment"]["KAFKA_CLUSTER_ID"] for n in CLUSTER_NODES}) == 1


def test_cluster_apps_name_every_broker_wait_for_each_and_log_in_as_themselves() -> None:
    services = compose()["services"]
    apps = app_services("cluster")
    assert {"cluster-topics", "cluster-bridge", "cluster-worker"} <= set(apps)
    brokers = ",".join(f"{n}:9092" for n in CLUSTER_NODES)
    assert services["kafka-cluster-access"]["environment"]["KAFKA_BOOTSTRAP"] == brokers
    assert 'B="${KAFKA_BOOTSTRAP:-kafka:9092}"' in (ROOT / "config/kafka/acls.sh").read_text()
    commands = cli_commands()
    for name, service in apps.items():
        env = service["environment"]
        assert env["TRADELANE_KAFKA_BOOTSTRAP_SERVERS"] == brokers, name
        for node in CLUSTER_NODES:
            assert service["depends_on"][node]["condition"] == "service_healthy", name
        assert "kafka" not in service["depends_on"], name
        access = service["depends_on"]["kafka-cluster-access"]["condition"]
        assert access == "service_completed_successfully", name
        principal = PRINCIPAL_OF[name.removeprefix("cluster-")]
        assert env["TRADELANE_KAFKA_USERNAME"] == principal.value, name
        assert service["command"][0] in commands, name


def test_cluster_workers_can_be_scaled() -> None:
    worker = app_services("cluster")["cluster-worker"]
    assert worker["command"] == ["worker"]
    assert "ports" not in worker  # a published port would clash between replicas
    assert "container_name" not in worker
    assert "TRADELANE_LEDGER_SIGNING_KEY" in worker["environment"]
