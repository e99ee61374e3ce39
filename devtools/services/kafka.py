"""Apache Kafka 4.x, single node, KRaft mode, from the jars on Maven Central.

The jars are fetched once with Maven into the cache (``$TRADELANE_CACHE/kafka/<version>/libs``),
so later starts, in this clone or a fresh one, take seconds. Storage is formatted on first start
under the project-local home folder.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from pathlib import Path

from devtools.services.base import CONFIG_DIR, LocalService, render, require_tool, run_logged
from devtools.services.kafka_access import CONTROLLER_USER, provision, scram_entry
from tradelane import credentials
from tradelane.principals import Principal
from tradelane.settings import KafkaSettings, ServicesSettings
from transport.probes import kafka_ready

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
SECURED_MARKER = ".tradelane-sasl"
"""Written beside ``meta.properties`` once the storage holds the admin's SCRAM user."""


def new_cluster_id() -> str:
    """A random KRaft cluster id (16 bytes, URL-safe base64 without padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class Kafka(LocalService):
    """The broker at ``kafka``'s first bootstrap server (default: the environment's), its
    controller on the next port, its data under ``settings.home``. A test runs a second,
    brand-new broker by passing a free port and a home of its own."""

    name = "kafka"
    ready_timeout_s = 90.0
    heap = "1g"
    """The JVM's maximum heap (a node of a three-node cluster takes less)."""

    def __init__(self, settings: ServicesSettings, kafka: KafkaSettings | None = None) -> None:
        super().__init__(settings)
        self._kafka = kafka

    @property
    def kafka(self) -> KafkaSettings:
        """The admin's settings for this broker: SASL with the password of this home's keyring
        (whatever the environment says about the client side)."""
        base = self._kafka or KafkaSettings()
        return base.model_copy(
            update={
                "security_protocol": "SASL_PLAINTEXT",
                "username": None,
                "password": None,
                "principal": Principal.ADMIN.value,
                "credentials_file": self.keyring,
            }
        )

    @property
    def keyring(self) -> Path:
        return credentials.kafka_file(self.home)

    def passwords(self) -> dict[str, str]:
        """Every principal's password (and the controller listener's), generated once."""
        names = (*(p.value for p in Principal), CONTROLLER_USER)
        return credentials.ensure(self.keyring, names)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.kafka.bootstrap_servers.split(",")[0].strip().rpartition(":")
        return host, int(port)

    @property
    def libs(self) -> Path:
        return self.cache / "kafka" / self.settings.kafka_version / "libs"

    def endpoint(self) -> str:
        host, port = self.host_port
        return f"{host}:{port}"

    def install(self) -> None:
        marker = self.libs / ".complete"
        if marker.exists():
            return
        require_tool(
            "java", "install a JDK 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
        )
        mvn = require_tool("mvn", "install Maven (Debian: apt-get install -y maven)")
        self.libs.mkdir(parents=True, exist_ok=True)
        run_logged(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(CONFIG_DIR / "kafka" / "pom.xml"),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-Dkafka.version={self.settings.kafka_version}",
                f"-DoutputDirectory={self.libs}",
            ],
            self.home / "run" / "install-kafka.log",
            f"fetching Apache Kafka {self.settings.kafka_version} jars with Maven",
            1200,
        )
        marker.write_text("ok\n")

    def _java(self, *args: str) -> list[str]:
        java = require_tool("java", "install a JDK 17+")
        return [
            java,
            "-Xms256m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={CONFIG_DIR / 'kafka' / 'log4j2.yaml'}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def layout(self) -> dict[str, object]:
        """This node's place in its cluster: alone, its own quorum, one replica per topic
        (a node of a cluster, :mod:`devtools.services.kafka_cluster`, says otherwise)."""
        _host, port = self.host_port
        return {"node_id": 1, "voters": f"1@127.0.0.1:{port + 1}", "replication": 1, "min_isr": 1}

    @property
    def storage(self) -> Path:
        return self.data_dir / "data"

    def configure(self) -> Path:
        """The rendered ``server.properties`` of this node (it holds passwords: mode 0600)."""
        _host, port = self.host_port
        passwords = self.passwords()
        conf = render(
            CONFIG_DIR / "kafka" / "server.properties",
            self.data_dir / "server.properties",
            port=port,
            controller_port=port + 1,
            data_dir=self.storage,
            admin_password=passwords[Principal.ADMIN],
            controller_password=passwords[CONTROLLER_USER],
            **self.layout(),
        )
        conf.chmod(0o600)  # it holds the admin's and the controller's passwords
        return conf

    def format(self, conf: Path, cluster_id: str, admin_scram: str) -> None:
        """Format the storage once (with the admin's SCRAM credential); a formatted one is kept."""
        logs = self.storage
        marker = logs / SECURED_MARKER
        if (logs / "meta.properties").exists() and not marker.exists():
            # storage formatted before authentication existed has no admin user to log in
            # with: a dev broker's data is reset once, with a notice in its log
            self.process.run_dir.mkdir(parents=True, exist_ok=True)
            with self.process.log_file.open("a") as out:
                out.write("tradelane: storage predates SASL/ACLs; reformatting (data reset)\n")
            shutil.rmtree(logs)
        if (logs / "meta.properties").exists():
            return
        # attached with "=": an id that starts with "-" (one in 64) was read as an option
        run_logged(
            self._java(
                STORAGE_TOOL,
                "format",
                f"--cluster-id={cluster_id}",
                "-c",
                str(conf),
                "--add-scram",
                admin_scram,
            ),
            self.process.log_file,
            "formatting Kafka storage",
            120,
        )
        marker.write_text("SASL/SCRAM users and ACLs\n")

    def admin_scram(self) -> str:
        """The storage tool's ``--add-scram`` value for the admin (salted here)."""
        return scram_entry(Principal.ADMIN.value, self.passwords()[Principal.ADMIN])

    def launch(self) -> None:
        conf = self.configure()
        self.format(conf, new_cluster_id(), self.admin_scram())
        self.process.start(self._java(MAIN_CLASS, str(conf)), env=dict(os.environ))

    def ready(self) -> bool:
        return kafka_ready(self.kafka)

    def after_ready(self) -> None:
        """Create the service principals' SCRAM users and make the ACLs equal to the grants
        of :mod:`tradelane.principals` (idempotent: a second run changes nothing)."""
        provision(self.kafka, self.libs, self.cache, self.process.log_file)

    def version(self) -> str:
        jar = self.libs / f"kafka_2.13-{self.settings.kafka_version}.jar"
        return (
            f"Apache Kafka {self.settings.kafka_version} (KRaft)"
            if jar.exists()
            else ("not fetched")
        )
