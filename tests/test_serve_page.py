"""The service's page in a real headless browser (Debian's chromium and chromedriver, driven by selenium)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO
from serving import AppServer, Server, whole_photo_reader
from twplate import PlateRecognizer

pytest.importorskip("fastapi")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402  (after the skips)
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
SHIPPED = REPO / "models" / "twplate-rec" / "inference.yml"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed"),
    pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped model not exported"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1100,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_page_reads_a_chosen_sample(browser: webdriver.Chrome, tmp_path: Path) -> None:
    samples = [REPO / "samples" / "00_car2014.jpg", REPO / "samples" / "06_test.jpg"]
    expected = [r.text for r in PlateRecognizer(backend="onnxruntime")([str(p) for p in samples])]
    with Server(["--backend", "onnxruntime", "--no-photo"]) as server:
        browser.get(server.url + "/")
        WebDriverWait(browser, 30).until(lambda d: not d.find_element(By.ID, "photo").is_enabled())  # crops only
        browser.find_element(By.ID, "file").send_keys("\n".join(str(p) for p in samples))
        WebDriverWait(browser, 60).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Read 2"))
        readings = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".reading")]
        names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".name")]
        drawn = browser.execute_script(
            "return Array.from(document.querySelectorAll('canvas')).map(c => [c.width, c.height]);")
        shots = Path(os.environ.get("TWPLATE_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "serve_page.png"))
    assert readings == expected
    assert names == [p.name for p in samples]
    assert len(drawn) == 2 and all(w > 0 and h > 0 for w, h in drawn)  # each image was drawn on its canvas


def test_page_shows_a_bad_image_error(browser: webdriver.Chrome, tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with Server(["--backend", "onnxruntime", "--no-photo"]) as server:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "file").send_keys(str(bad))
        WebDriverWait(browser, 60).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Read 1"))
        error = browser.find_element(By.CSS_SELECTOR, ".card .error").text
    assert error.startswith("image 0: ") and "cannot decode" in error


def test_page_outlines_the_plates_of_a_photo(browser: webdriver.Chrome, tmp_path: Path) -> None:
    from twplate.serve import ServeConfig, create_app

    reader = PlateRecognizer(backend="onnxruntime")
    sample = REPO / "samples" / "03_car1992.jpg"
    app = create_app(ServeConfig(), recognizer=reader, photo_reader=whole_photo_reader(reader))
    with AppServer(app) as server:
        browser.get(server.url + "/")
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "photo").is_enabled())
        browser.find_element(By.ID, "photo").click()
        browser.find_element(By.ID, "file").send_keys(str(sample))
        WebDriverWait(browser, 60).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Read 1"))
        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.querySelector('canvas').width"))
        reading = browser.find_element(By.CSS_SELECTOR, ".reading").text
        # the box is the whole photo here: its outline runs along the canvas's left edge
        edge = browser.execute_script(
            "const c = document.querySelector('canvas');"
            "return Array.from(c.getContext('2d').getImageData(0, Math.floor(c.height / 2), 1, 1).data);")
        shots = Path(os.environ.get("TWPLATE_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "serve_page_photo.png"))
    assert reading == reader(str(sample)).text
    red, green, blue, _ = edge
    assert green > 180 and red < 90  # the outline colour, #00e676
