"""The seller's page (``/seller``) in headless Chromium at a phone's size, on the real Kafka.

The story (:mod:`tests.integration.seller_story`: a confirming facility of ``demo-shipper``,
one tranche lent, one awaiting the borrower) is played through the pure pledge engine and
written to the real topics with what the engine emitted, as the worker would; no worker runs
(the cluster allows one worker group at a time). A real ``tradelane api`` then reads it all
from Kafka. The page shows the balance, the calendar, the awaiting tranche, the credit score
and the FX form; a tap on
Confirm reaches ``finance.requests`` as the borrower's decision, and the buttons wait for the
bank's engine. Screenshots at phone and desktop sizes go to test-artifacts/ (and docs/images/ with
TRADELANE_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.integration.api_helpers import running_api
from tests.integration.helpers import Tail
from tests.integration.seller_story import BORROWER, Record, Story, new_story, story_records
from tradelane.contracts import FinanceRequest
from tradelane.contracts.seller import TrancheDecision
from tradelane.settings import KafkaSettings
from tradelane.topics import FINANCE_FACILITIES, FINANCE_REQUESTS
from transport import kafka as clients

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS, DOCS_IMAGES = ROOT / "test-artifacts", ROOT / "docs" / "images"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PHONE, DESKTOP = (390, 844), (1280, 900)


def _viewport(driver: WebDriver, size: tuple[int, int], mobile: bool) -> None:
    """Emulate a device's viewport (a window size would include the browser's chrome)."""
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


@pytest.fixture
def phone() -> Iterator[WebDriver]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(binary), f"{binary} missing: apt-get install chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        _viewport(driver, PHONE, mobile=True)
        yield driver
    finally:
        driver.quit()


async def _publish(kafka: KafkaSettings, records: list[Record]) -> None:
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _forget(kafka: KafkaSettings, facility_id: str) -> None:
    """Tombstone the test's facility: the compacted registry forgets it."""
    producer = clients.producer(kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(FINANCE_FACILITIES.name, None, key=facility_id.encode())
    finally:
        await producer.stop()


@contextmanager
def requests_tail(kafka: KafkaSettings) -> Iterator[tuple[asyncio.AbstractEventLoop, Tail]]:
    """``finance.requests`` read from its end at entry, on a loop of its own (the browser's
    calls in between are synchronous)."""

    async def open_tail() -> Tail:  # aiokafka binds its consumer to the running loop
        return await Tail(kafka, FINANCE_REQUESTS.name).__aenter__()

    loop = asyncio.new_event_loop()
    tail = loop.run_until_complete(open_tail())
    try:
        yield loop, tail
    finally:
        loop.run_until_complete(tail.__aexit__(None, None, None))
        loop.close()


def _decisions(records: list[ConsumerRecord[bytes, bytes]], story: Story) -> list[TrancheDecision]:
    found = []
    for record in records:
        if record.key != story.facility_id.encode() or record.value is None:
            continue
        data = FinanceRequest.model_validate_json(record.value).data
        if isinstance(data, TrancheDecision):
            found.append(data)
    return found


def _text(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def test_a_seller_confirms_a_tranche_on_a_phone(
    phone: WebDriver, kafka_settings: KafkaSettings, unique: str, tmp_path: Path
) -> None:
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    story = new_story(unique, t0)
    asyncio.run(_publish(kafka_settings, story_records(story)))
    keys: dict[str, tuple[str, str | None]] = {"seller": ("borrower", BORROWER)}
    try:
        with (
            running_api(tmp_path, unique, extra_keys=keys) as api,
            requests_tail(kafka_settings) as (loop, tail),
        ):
            phone.get(f"{api.url}/seller?key={api.keys['seller']}#facility={story.facility_id}")
            _check_the_page(phone, story)
            _confirm_on_the_page(phone, story)
            records = loop.run_until_complete(
                tail.until(lambda r: bool(_decisions(r, story)), timeout_s=30)
            )
            (decision,) = _decisions(records, story)
            assert (decision.shipment_id, decision.milestone.value) == (
                story.awaiting,
                "departed_origin",
            )
            assert (decision.choice.value, decision.amount) == ("confirm", None)
            assert (decision.by.role, decision.by.party) == ("borrower", BORROWER)
            _screenshots(phone)
    finally:
        asyncio.run(_forget(kafka_settings, story.facility_id))


def _check_the_page(driver: WebDriver, story: Story) -> None:
    """Balance, calendar and the awaiting tranche, with nothing wider than the phone."""
    wait = WebDriverWait(driver, 60, poll_frequency=0.2)
    awaiting = f"[data-tranche='{story.awaiting}/departed_origin']"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"{awaiting} [data-choice=confirm]"))
    assert driver.find_element(By.CSS_SELECTOR, awaiting).get_attribute("data-state") == "awaiting"
    assert "Waiting for you" in _text(driver, awaiting)
    # the engine lent A's departure tranche: USD 180,000 x 60 % x 50 %
    assert _text(driver, "#outstanding") == "54,000.00 USD"
    assert _text(driver, "#headroom").endswith(" USD")
    assert _text(driver, "#base") != "—"
    assert "as of" in _text(driver, "#as-of")
    lines = driver.find_elements(By.CSS_SELECTOR, "#calendar-weeks li.line")
    assert lines, "the calendar shows no line"
    assert any(story.upcoming in line.text for line in lines)  # C departs in three days
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"[data-shipment='{story.lent}']"))
    assert driver.find_elements(By.CSS_SELECTOR, "#reminder-list [data-reminder]")
    _check_credit_and_fx(driver)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"horizontal scroll at {PHONE[0]} px: {width} px wide"


def _check_credit_and_fx(driver: WebDriver) -> None:
    """The engine announced a score for the story (no bands): the card shows it and its
    factors, collapsed on a phone; the terms offer FX locks, so the form is there; no plan, so
    no plan section."""
    wait = WebDriverWait(driver, 30, poll_frequency=0.2)
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#credit").is_displayed())
    score = _text(driver, "#credit-score")
    assert score.split(" / ")[0].isdigit(), score
    assert "/ 1000" in score
    assert "no score bands" in score
    assert len(driver.find_elements(By.CSS_SELECTOR, "#factor-list [data-factor]")) == 6
    assert driver.find_element(By.CSS_SELECTOR, "#credit-factors").get_attribute("open") is None
    assert driver.find_element(By.CSS_SELECTOR, "#fx").is_displayed()
    for field in ("fx-side", "fx-amount", "fx-currency"):
        label = driver.find_element(By.CSS_SELECTOR, f"label[for='{field}']")
        assert label.text, f"{field} has no label"
    assert driver.find_element(By.CSS_SELECTOR, "#fx-send").is_enabled()
    assert "250,000.00 USD" in _text(driver, "#fx-terms")
    assert not driver.find_element(By.CSS_SELECTOR, "#plan").is_displayed()


def _confirm_on_the_page(driver: WebDriver, story: Story) -> None:
    awaiting = f"[data-tranche='{story.awaiting}/departed_origin']"
    button = driver.find_element(By.CSS_SELECTOR, f"{awaiting} [data-choice=confirm]")
    assert button.is_enabled()
    button.click()
    WebDriverWait(driver, 30, poll_frequency=0.2).until(
        lambda d: "waiting for the bank's engine" in _text(d, f"{awaiting} .status")
    )
    buttons = driver.find_elements(By.CSS_SELECTOR, f"{awaiting} [data-choice]")
    assert len(buttons) == 3
    assert not any(b.is_enabled() for b in buttons), "the buttons stay live while it waits"


def _screenshots(driver: WebDriver) -> None:
    """The phone's first screen, and the whole page on a desktop, under test-artifacts/ (with
    the whole page on the phone, for review);
    copied to docs/images/ only with TRADELANE_UPDATE_SCREENSHOTS=1 (so a test run leaves the
    tree as it was)."""
    ARTIFACTS.mkdir(exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(ARTIFACTS / "seller-phone.png"))
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    _viewport(driver, (PHONE[0], height), mobile=True)  # every section, for review only
    driver.save_screenshot(str(ARTIFACTS / "seller-phone-full.png"))
    _viewport(driver, DESKTOP, mobile=False)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    _viewport(driver, (DESKTOP[0], max(DESKTOP[1], height)), mobile=False)
    driver.save_screenshot(str(ARTIFACTS / "seller-desktop.png"))
    for name in ("seller-phone.png", "seller-desktop.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000
        if os.environ.get("TRADELANE_UPDATE_SCREENSHOTS") == "1":
            DOCS_IMAGES.mkdir(exist_ok=True)
            shutil.copyfile(ARTIFACTS / name, DOCS_IMAGES / name)
