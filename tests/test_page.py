"""The web page in a real headless Chromium against a real server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import HELDOUT, ROOT, SEEDS

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
        reason="Chromium not installed (make browser installs it)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "MEDBRIEF_MODEL_DIR": str(model_dir), "MEDBRIEF_TRAIN_IF_MISSING": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "medbrief.service.app:app", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("the server did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1100,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or "/usr/bin/chromedriver"),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_result(driver: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(ec.visibility_of_element_located((By.ID, "result")))


def test_pasted_article_shows_summary_topics_and_labelled_paragraphs(
    server: str, browser: object
) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server + "/")  # type: ignore[attr-defined]
    text = (SEEDS / "003_d68301345416b06b.txt").read_text()
    driver.execute_script(  # type: ignore[attr-defined]
        "const t = document.getElementById('text'); t.value = arguments[0];"
        "t.dispatchEvent(new Event('input'));", text)
    driver.find_element(By.ID, "go").click()  # type: ignore[attr-defined]
    wait_for_result(driver)
    record = httpx.post(server + "/v1/analyze", json={"text": text}).json()
    summary = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#summary li")]  # type: ignore[attr-defined]
    assert len(summary) == 3
    for shown, chosen in zip(summary, record["summary"], strict=True):
        assert shown.startswith(chosen["text"]) and shown.endswith(chosen["label"])
    segments = driver.find_elements(By.CSS_SELECTOR, "#bar div")  # type: ignore[attr-defined]
    assert len(segments) == len(record["topics"])
    paragraphs = driver.find_elements(By.CSS_SELECTOR, "#paragraphs .para")  # type: ignore[attr-defined]
    labels = [p.get_attribute("data-label") for p in paragraphs]
    assert labels == [p["label"] for p in record["paragraphs"]]
    assert len(paragraphs) == 18 and labels[-1] == "boilerplate" and "risks" in labels
    assert "%" in paragraphs[0].text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "page.png"
    driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.stat().st_size > 10_000


def test_dropped_markdown_file_is_read_as_markdown(server: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server + "/")  # type: ignore[attr-defined]
    source = next(HELDOUT.glob("*.md"))
    driver.execute_script(  # type: ignore[attr-defined]
        "const dt = new DataTransfer();"
        "dt.items.add(new File([arguments[0]], arguments[1], {type: 'text/markdown'}));"
        "document.getElementById('drop').dispatchEvent("
        "  new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
        source.read_text(), source.name)
    time.sleep(0.5)
    assert "(markdown)" in driver.find_element(By.ID, "file").text  # type: ignore[attr-defined]
    driver.find_element(By.ID, "go").click()  # type: ignore[attr-defined]
    wait_for_result(driver)
    texts = [p.text for p in driver.find_elements(By.CSS_SELECTOR, "#paragraphs .para")]  # type: ignore[attr-defined]
    assert texts and not any(t.startswith("#") for t in texts)


def test_an_error_is_shown_not_thrown(server: str, browser: object) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(server + "/")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "go").click()  # type: ignore[attr-defined]
    time.sleep(1)
    assert "text" in driver.find_element(By.ID, "error").text  # type: ignore[attr-defined]


def test_the_api_docs_render_from_local_assets_alone(server: str, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    driver.get(server + "/docs")  # type: ignore[attr-defined]
    WebDriverWait(driver, 20).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock"))
    )
    operations = driver.find_elements(By.CSS_SELECTOR, ".opblock")  # type: ignore[attr-defined]
    assert len(operations) >= 7
    loaded = driver.execute_script(  # type: ignore[attr-defined]
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(server) for url in loaded), loaded
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "docs.png"))  # type: ignore[attr-defined]


def test_the_evaluation_report_renders_with_its_figures(
    model_dir: Path, browser: object, tmp_path: Path
) -> None:
    from click.testing import CliRunner
    from selenium.webdriver.common.by import By

    from medbrief.cli import main

    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["evaluate", "--data", str(HELDOUT), "--report",
                                       str(out), "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    driver = browser
    driver.get((out / "index.html").as_uri())  # type: ignore[attr-defined]
    assert driver.find_element(By.TAG_NAME, "h1").text == "medbrief evaluation"  # type: ignore[attr-defined]
    widths = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.images].map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 2 and all(w > 300 for w in widths), widths
    worst = driver.find_elements(By.CSS_SELECTOR, ".worst p")  # type: ignore[attr-defined]
    assert len(worst) == 12 and "for " in worst[0].text
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.stat().st_size > 10_000


def start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """The service on a free port with these settings; waits until it is ready."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "medbrief.service.app:app", "--port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.terminate()
    pytest.fail("the server did not become ready")


def test_review_correct_save_retrain_and_see_the_new_model_serve(
    browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from medbrief.training.data import heldout_dirs
    from medbrief.training.train import train

    # The service's data: written articles and a held-out folder. The serving model learnt
    # from a third of them, so a retrain on all of them (and two corrections) does better.
    data, few, models = tmp_path / "data", tmp_path / "few", tmp_path / "models"
    shutil.copytree(HELDOUT, data / "heldout")
    names = sorted({p.name.split(".")[0] for p in SEEDS.glob("*.labels.jsonl")})
    for k, name in enumerate(names):
        for file in SEEDS.glob(f"{name}.*"):
            shutil.copy(file, data / file.name)
            if k % 3 == 0:
                few.mkdir(exist_ok=True)
                shutil.copy(file, few / file.name)
    train(few, models, heldout_dirs(data), cross_validation=False)
    env = {"MEDBRIEF_MODEL_DIR": str(models), "MEDBRIEF_DATA_DIR": str(data),
           "MEDBRIEF_CORRECTIONS_DIR": str(tmp_path / "corrections"),
           "MEDBRIEF_ADMIN_KEY": "review-key", "MEDBRIEF_RELOAD_SECONDS": "0.2",
           "MEDBRIEF_TRAIN_IF_MISSING": "0"}
    process, url = start(env)
    driver = browser
    try:
        old = httpx.get(f"{url}/v1/model").json()["version"]
        driver.get(url + "/")  # type: ignore[attr-defined]
        text = (SEEDS / "003_d68301345416b06b.txt").read_text()
        driver.execute_script(  # type: ignore[attr-defined]
            "const t = document.getElementById('text'); t.value = arguments[0];", text)
        driver.find_element(By.ID, "go").click()  # type: ignore[attr-defined]
        wait_for_result(driver)
        marks = driver.find_elements(By.CSS_SELECTOR, "#paragraphs mark")  # type: ignore[attr-defined]
        summary = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#summary li")]  # type: ignore[attr-defined]
        assert len(marks) == len(summary) and all(s.startswith(m.text) for m, s in
                                                   zip(marks, summary, strict=True))
        paragraphs = driver.find_elements(By.CSS_SELECTOR, "#paragraphs .para")  # type: ignore[attr-defined]
        for index, label in ((1, "outlook"), (2, "risks")):
            paragraphs[index].click()
            why = paragraphs[index].find_element(By.CSS_SELECTOR, ".why")
            assert "Why" in why.text
            Select(why.find_element(By.TAG_NAME, "select")).select_by_value(label)
        assert "2 label(s) changed" in driver.find_element(By.ID, "changed").text  # type: ignore[attr-defined]
        driver.find_element(By.ID, "save").click()  # type: ignore[attr-defined]
        WebDriverWait(driver, 10).until(
            lambda d: "Saved as" in d.find_element(By.ID, "reviewed").text)
        driver.find_element(By.ID, "key").send_keys("review-key")  # type: ignore[attr-defined]
        driver.find_element(By.ID, "retrain").click()  # type: ignore[attr-defined]
        WebDriverWait(driver, 120).until(
            lambda d: "live" in d.find_element(By.ID, "retrained").text
            or "Not" in d.find_element(By.ID, "retrained").text)
        shown = driver.find_element(By.ID, "retrained").text  # type: ignore[attr-defined]
        assert "is live, trained with 1 correction(s)" in shown and "(was " in shown, shown
        new = httpx.get(f"{url}/v1/model").json()["version"]
        assert new != old and new in shown
        assert httpx.post(f"{url}/v1/analyze", json={"text": text}).json()["model"][
            "version"] == new
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "review.png"))  # type: ignore[attr-defined]
    finally:
        process.terminate()
        process.wait(timeout=20)
    # The correction outlives the service; a retrain that would lower the held-out figures
    # (poisoned corrections) is refused, and the page says why.
    process, url = start(env)
    try:
        saved = httpx.get(f"{url}/v1/corrections").json()["corrections"]
        assert len(saved) == 1 and saved[0]["labels"]["risks"] >= 1
        from medbrief.training.data import load_dir

        for article in load_dir(data)[:40]:  # every paragraph of 40 articles called outlook
            poisoned = [{"text": t, "label": "outlook"} for t in article.texts]
            assert httpx.post(f"{url}/v1/corrections", json={"paragraphs": poisoned}
                              ).status_code == 201
        serving = httpx.get(f"{url}/v1/model").json()["version"]
        driver.get(url + "/")  # type: ignore[attr-defined]
        driver.execute_script(  # type: ignore[attr-defined]
            "document.getElementById('text').value = arguments[0];", text)
        driver.find_element(By.ID, "go").click()  # type: ignore[attr-defined]
        wait_for_result(driver)
        driver.find_element(By.ID, "key").send_keys("review-key")  # type: ignore[attr-defined]
        driver.find_element(By.ID, "retrain").click()  # type: ignore[attr-defined]
        WebDriverWait(driver, 120).until(
            lambda d: "Not retrained" in d.find_element(By.ID, "retrained").text)
        assert "below" in driver.find_element(By.ID, "retrained").text  # type: ignore[attr-defined]
        assert httpx.get(f"{url}/v1/model").json()["version"] == serving
    finally:
        process.terminate()
        process.wait(timeout=20)
