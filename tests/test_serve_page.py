"""The service's page in a real headless browser (Debian's chromium and chromedriver, driven by selenium)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from conftest import REPO
from photos import PLATE_CORNERS, paste_plate, steep_crop
from serving import Server
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
        assert not browser.find_element(By.ID, "straighten").is_enabled()  # no detector in this service
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


def test_page_outlines_the_plates_of_a_photo_and_straightens_a_steep_crop(browser: webdriver.Chrome,
                                                                          tmp_path: Path) -> None:
    from twplate.photo import PhotoReader

    photo = tmp_path / "street.jpg"
    cv2.imwrite(str(photo), paste_plate("03_car1992.jpg", PLATE_CORNERS))
    (expected,) = PhotoReader(backend="onnxruntime")(str(photo))
    steep = tmp_path / "steep.png"
    cv2.imwrite(str(steep), steep_crop("00_car2014.jpg", 50))
    assert PlateRecognizer(backend="onnxruntime")(str(steep)).text != "KCD-1636"  # as a plain crop
    with Server(["--backend", "onnxruntime"]) as server:
        browser.get(server.url + "/")
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "photo").is_enabled())
        browser.find_element(By.ID, "photo").click()
        assert not browser.find_element(By.ID, "straighten").is_enabled()  # crops only
        browser.find_element(By.ID, "file").send_keys(str(photo))
        WebDriverWait(browser, 60).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Read 1"))
        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.querySelector('canvas').width"))
        reading = browser.find_element(By.CSS_SELECTOR, ".reading").text
        # pixels of the outline colour (#00e676) on the canvas, scaled back to the photo's coordinates
        outline = browser.execute_script(
            "const c = document.querySelector('canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height);"
            "const xs = [], ys = [];"
            "for (let i = 0; i < d.data.length; i += 4)"
            "  if (d.data[i + 1] > 180 && d.data[i] < 90 && d.data[i + 2] > 80 && d.data[i + 2] < 160)"
            "    { xs.push((i / 4) % c.width * 960 / c.width); ys.push(Math.floor(i / 4 / c.width) * 720 / c.height); }"
            "return xs.length ? [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] : null;")
        shots = Path(os.environ.get("TWPLATE_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(shots / "serve_page_photo.png"))

        browser.find_element(By.ID, "photo").click()  # back to crops
        straighten = browser.find_element(By.ID, "straighten")
        assert straighten.is_enabled() and not straighten.is_selected()  # available, off by default
        straighten.click()
        file_input = browser.find_element(By.ID, "file")
        file_input.clear()
        file_input.send_keys(str(steep))
        WebDriverWait(browser, 60).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Read 1"))
        straightened = browser.find_element(By.CSS_SELECTOR, ".reading").text
    assert straightened == "KCD-1636"
    assert expected.text in reading
    xs, ys = [p[0] for p in expected.box], [p[1] for p in expected.box]
    assert outline is not None
    left, _, right, bottom = outline  # the outline surrounds the box, give or take its width (its label sits on top)
    assert abs(left - min(xs)) < 12 and abs(right - max(xs)) < 12 and abs(bottom - max(ys)) < 12
