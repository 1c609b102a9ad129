"""`noisefree serve`: the API through the framework's test client, and the page in a real (headless) browser."""

import io
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from noisefree.io import read_image, write_image

from .conftest import smooth_image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def _noisy_png(tmp_path, *, dtype="uint16", channels=1, size=(48, 64)):
    rng = np.random.default_rng(0)
    img = smooth_image(*size, channels=channels)
    path = tmp_path / f"noisy-{dtype}.png"
    write_image(path, img + rng.normal(0, 0.08, img.shape).astype(np.float32), dtype=dtype)
    return path


@pytest.fixture
def client():
    from fastapi.testclient import TestClient

    from noisefree.web import create_app

    with TestClient(create_app(max_upload_mb=1, max_megapixels=0.5)) as c:
        yield c


def _wait(client, job_id, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_upload_denoise_and_download_in_the_input_format(client, tmp_path):
    path = _noisy_png(tmp_path)
    methods = [m["name"] for m in client.get("/api/methods").json()["methods"]]
    assert {"auto", "gray-blind", "median", "bm3d"} <= set(methods)
    reply = client.post("/api/jobs", files={"file": ("../../etc/passwd.png", path.read_bytes())},
                        data={"method": "gaussian", "sigma": "auto"})
    assert reply.status_code == 202, reply.text
    status = _wait(client, reply.json()["id"])
    assert status["state"] == "done" and status["bits"] == "uint16" and (status["width"], status["height"]) == (64, 48)
    assert 10 < status["sigma_estimated_8bit"] < 30  # 0.08 x 255 = 20.4
    assert status["download_name"] == "passwd-denoised.png"  # the uploaded name is cleaned, never a path
    download = client.get(f"/api/jobs/{status['id']}/download")
    (tmp_path / "out.png").write_bytes(download.content)
    out, info = read_image(tmp_path / "out.png")
    assert out.shape == (48, 64) and info.dtype == "uint16"
    preview = Image.open(io.BytesIO(client.get(f"/api/jobs/{status['id']}/result.png").content))
    assert preview.size == (64, 48)


def test_a_float_tiff_in_counts_comes_back_in_its_units(client, tmp_path):
    import tifffile

    clean = smooth_image(40, 40)
    counts = (clean + np.random.default_rng(3).normal(0, 0.08, clean.shape)) * 4000 + 500
    counts = counts.astype(np.float32)
    counts[2, 3] = np.nan
    tifffile.imwrite(tmp_path / "cells.tif", counts)
    reply = client.post("/api/jobs", files={"file": ("cells.tif", (tmp_path / "cells.tif").read_bytes())},
                        data={"method": "gray-blind", "sigma": "auto"})
    status = _wait(client, reply.json()["id"])
    assert status["state"] == "done" and "values divided by" in status["values"] and "1 NaN" in status["values"]
    assert 10 < status["sigma_estimated_8bit"] < 30  # on the [0, 1] scale the page shows: 0.08 x 255 = 20.4
    (tmp_path / "out.tif").write_bytes(client.get(f"/api/jobs/{status['id']}/download").content)
    out = tifffile.imread(tmp_path / "out.tif")
    ok = np.isfinite(counts)
    assert np.isnan(out[2, 3]) and np.isfinite(out[ok]).all()
    target = clean[ok] * 4000 + 500
    assert np.mean((out[ok] - target) ** 2) < 0.3 * np.mean((counts[ok] - target) ** 2)


def test_sigma_slider_value_is_used(client, tmp_path):
    data = _noisy_png(tmp_path, dtype="uint8").read_bytes()
    ids = [client.post("/api/jobs", files={"file": ("a.png", data)}, data={"method": "gaussian", "sigma": s}
                       ).json()["id"] for s in ("5", "40")]
    a, b = (_wait(client, i) for i in ids)  # the second waited in the queue, not lost
    assert a["sigma_used_8bit"] == pytest.approx(5) and b["sigma_used_8bit"] == pytest.approx(40)
    one, two = (client.get(f"/api/jobs/{i}/result.png").content for i in ids)
    assert one != two


def test_bad_requests_get_clear_messages(client, tmp_path):
    good = _noisy_png(tmp_path, dtype="uint8").read_bytes()
    r = client.post("/api/jobs", files={"file": ("a.png", good)}, data={"method": "../secret"})
    assert r.status_code == 400 and "unknown method" in r.json()["detail"]
    r = client.post("/api/jobs", files={"file": ("notes.png", b"hello")}, data={"method": "median"})
    assert r.status_code == 400 and "not an image file" in r.json()["detail"] and "/tmp" not in r.json()["detail"]
    r = client.post("/api/jobs", files={"file": ("big.png", bytes(2 * 1024 * 1024))}, data={"method": "median"})
    assert r.status_code == 413 and "upload limit of 1 MB" in r.json()["detail"]
    buf = io.BytesIO()
    Image.new("L", (1000, 1000)).save(buf, format="PNG")  # 1 MP: over this server's 0.5 MP limit, tiny file
    r = client.post("/api/jobs", files={"file": ("bomb.png", buf.getvalue())}, data={"method": "median"})
    assert r.status_code == 400 and "too large to decode safely" in r.json()["detail"]
    r = client.post("/api/jobs", files={"file": ("a.png", good)}, data={"method": "median", "sigma": "300"})
    assert r.status_code == 400 and "0 to 255" in r.json()["detail"]
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/api/jobs/nope").status_code == 404
    rgb_on_gray = client.post("/api/jobs", files={"file": ("g.png", good)}, data={"method": "color-blind"})
    failed = _wait(client, rgb_on_gray.json()["id"])
    assert failed["state"] == "failed" and "3-channel" in failed["error"]


def test_non_loopback_needs_allow_remote():
    from typer.testing import CliRunner

    from noisefree.cli import app

    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "--allow-remote" in r.output


def _chromium():
    for browser in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(browser):
            return shutil.which(browser)
    return None


@pytest.mark.skipif(_chromium() is None or shutil.which("chromedriver") is None,
                    reason="needs Chromium and chromedriver (.ci/run installs them: apt install chromium "
                           "chromium-driver)")
def test_the_page_in_a_real_browser(tmp_path):
    pytest.importorskip("selenium")
    import urllib.request

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from noisefree.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        while not server.started:
            time.sleep(0.05)
        driver.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(driver, 20).until(lambda d: len(Select(d.find_element(By.ID, "method")).options) > 3)
        Select(driver.find_element(By.ID, "method")).select_by_value("gray-blind")
        driver.find_element(By.ID, "file").send_keys(str(_noisy_png(tmp_path, size=(96, 128))))
        driver.find_element(By.ID, "go").click()
        WebDriverWait(driver, 120).until(lambda d: "Done in" in d.find_element(By.ID, "status").text)
        status = driver.find_element(By.ID, "status").text
        assert "128×96" in status and "uint16" in status and "Estimated noise σ" in status
        assert driver.find_element(By.ID, "viewer").is_displayed()
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(
            "return document.getElementById('after').naturalWidth * document.getElementById('before').naturalWidth"))
        assert driver.execute_script("return document.getElementById('after').naturalWidth") == 128
        link = driver.find_element(By.ID, "download")
        assert link.is_displayed() and link.get_attribute("download") == "noisy-uint16-denoised.png"
        (tmp_path / "got.png").write_bytes(urllib.request.urlopen(link.get_attribute("href")).read())
        out, info = read_image(tmp_path / "got.png")
        assert out.shape == (96, 128) and info.dtype == "uint16"
        driver.save_screenshot(str(tmp_path / "page.png"))
        assert Image.open(tmp_path / "page.png").size[0] > 0
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(10)


def test_auto_sigma_on_a_clipped_image_is_the_noise_left_and_says_so(client, tmp_path):
    rng = np.random.default_rng(1)
    img = np.clip(np.linspace(-0.1, 1.1, 96)[None, :].repeat(64, 0) + rng.normal(0, 0.2, (64, 96)), 0, 1)
    write_image(tmp_path / "clipped.png", img.astype(np.float32), dtype="uint8")
    reply = client.post("/api/jobs", files={"file": ("clipped.png", (tmp_path / "clipped.png").read_bytes())},
                        data={"method": "gaussian", "sigma": "auto"})
    status = _wait(client, reply.json()["id"])
    assert status["state"] == "done" and status["sigma_clipped"], status
    assert status["sigma_used_8bit"] < 0.95 * status["sigma_estimated_8bit"], status
