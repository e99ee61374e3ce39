"""The dashboard in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, which
scripts/test.sh installs): it shows the live shipment count and positions updating while the
simulator runs, opens a shipment's view with its track from InfluxDB, and saves screenshots
under test-artifacts/."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from ingest.bridge import Bridge, BridgeConfig
from ingest.sink import Sink, SinkConfig
from tests.integration.api_helpers import running_api
from tradelane.settings import InfluxSettings, KafkaSettings, MqttSettings
from transport.mqtt import forget_session

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(binary), f"{binary} missing: apt-get install chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def bridge_and_sink(
    mqtt: MqttSettings, kafka: KafkaSettings, influx: InfluxSettings, name: str
) -> Iterator[None]:
    """The bridge (MQTT → Kafka) and the sink (Kafka → InfluxDB, from now) on a thread's own
    event loop, ready on entry."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bridge = Bridge(mqtt, kafka, BridgeConfig(client_id=name, share_group=name, metrics_port=None))
    sink = Sink(kafka, influx, SinkConfig(group_id=name, from_beginning=False))

    async def run() -> None:
        await asyncio.gather(bridge.run(stop), sink.run(stop))

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        for ready in (bridge.subscribed, sink.ready):
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(ready.wait(), 60), loop).result()
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        loop.close()
        forget_session(mqtt, name)


def number(driver: WebDriver, element_id: str) -> int:
    return int(driver.find_element(By.ID, element_id).text or 0)


def test_dashboard_follows_the_fleet_live(
    browser: WebDriver,
    mqtt_settings: MqttSettings,
    kafka_settings: KafkaSettings,
    influx_settings: InfluxSettings,
    unique: str,
    tmp_path: Path,
) -> None:
    prefix = f"ui{unique}"
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        running_api(tmp_path, unique) as api,
        bridge_and_sink(mqtt_settings, kafka_settings, influx_settings, f"ui-{unique}"),
    ):
        browser.get(f"{api.url}/?key={api.keys['operator']}")
        wait = WebDriverWait(browser, 60, poll_frequency=0.2)
        wait.until(lambda d: d.find_element(By.ID, "live-status").text == "live")
        wait.until(lambda d: number(d, "shipment-count") > 0)
        before = number(browser, "shipment-count")
        assert number(browser, "position-count") == 0

        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "simulate",
                "--trackers",
                "3",
                "--max-trackers-per-shipment",
                "1",
                "--speedup",
                "43200",
                "--duration",
                "25",
                "--prefix",
                prefix,
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait.until(lambda d: number(d, "shipment-count") >= before + 3)
            wait.until(lambda d: number(d, "position-count") > 0)
            seen = number(browser, "position-count")
            wait.until(lambda d: number(d, "position-count") > seen)  # still moving
            marker = f"#fleet-map circle[data-shipment='{prefix}-shp00000']"
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, marker))
            browser.save_screenshot(str(ARTIFACTS / "dashboard-fleet.png"))

            browser.find_element(By.ID, "filter-text").send_keys(prefix)
            row = f"#shipment-table tr[data-shipment='{prefix}-shp00000']"

            def open_row(d: WebDriver) -> bool:
                d.find_element(By.CSS_SELECTOR, row).click()  # the table re-renders live
                return True

            WebDriverWait(
                browser,
                30,
                ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
            ).until(open_row)
            wait.until(lambda d: prefix in d.find_element(By.ID, "shipment-title").text)

            def track_drawn(d: WebDriver) -> bool:
                paths = d.find_elements(By.ID, "track-path")
                if paths and int(paths[0].get_attribute("data-points") or 0) > 1:
                    return True
                d.execute_script("window.dispatchEvent(new HashChangeEvent('hashchange'))")
                return False

            WebDriverWait(browser, 60, poll_frequency=2).until(track_drawn)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#temp-chart path.series"))
            browser.save_screenshot(str(ARTIFACTS / "dashboard-shipment.png"))
        finally:
            sim.terminate()
            sim.wait(30)
    assert (ARTIFACTS / "dashboard-shipment.png").stat().st_size > 10_000
