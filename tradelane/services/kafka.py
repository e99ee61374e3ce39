"""Apache Kafka 4.x, single node, KRaft mode, from the jars on Maven Central.

The jars are fetched once with Maven into the cache (``$TRADELANE_CACHE/kafka/<version>/libs``),
so later starts, in this clone or a fresh one, take seconds. Storage is formatted on first start
under the project-local home folder.
"""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

from tradelane.services.base import CONFIG_DIR, LocalService, render, require_tool, run_logged
from tradelane.services.probes import kafka_ready
from tradelane.settings import KafkaSettings, ServicesSettings

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


class Kafka(LocalService):
    """The broker at ``kafka``'s first bootstrap server (default: the environment's), its
    controller on the next port, its data under ``settings.home``. A test runs a second,
    brand-new broker by passing a free port and a home of its own."""

    name = "kafka"
    ready_timeout_s = 90.0

    def __init__(self, settings: ServicesSettings, kafka: KafkaSettings | None = None) -> None:
        super().__init__(settings)
        self._kafka = kafka

    @property
    def kafka(self) -> KafkaSettings:
        return self._kafka or KafkaSettings()

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
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={CONFIG_DIR / 'kafka' / 'log4j2.yaml'}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def launch(self) -> None:
        _host, port = self.host_port
        logs = self.data_dir / "data"
        conf = render(
            CONFIG_DIR / "kafka" / "server.properties",
            self.data_dir / "server.properties",
            port=port,
            controller_port=port + 1,
            data_dir=logs,
        )
        if not (logs / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            # attached with "=": an id that starts with "-" (one in 64) was read as an option
            run_logged(
                self._java(STORAGE_TOOL, "format", f"--cluster-id={cluster_id}", "-c", str(conf)),
                self.process.log_file,
                "formatting Kafka storage",
                120,
            )
        env = dict(os.environ)
        self.process.start(self._java(MAIN_CLASS, str(conf)), env=env)

    def ready(self) -> bool:
        return kafka_ready(self.endpoint())

    def version(self) -> str:
        jar = self.libs / f"kafka_2.13-{self.settings.kafka_version}.jar"
        return (
            f"Apache Kafka {self.settings.kafka_version} (KRaft)"
            if jar.exists()
            else ("not fetched")
        )
