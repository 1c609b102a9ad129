"""The README's screenshot of `noisefree serve`: a real browser (headless Chromium) on the real page.

    python benchmarks/web_screenshot.py          # writes docs/figures/serve.png

It starts the server, uploads scikit-image's `astronaut` (public domain, NASA) with Gaussian noise of σ 25,
denoises it with the shipped color-blind model, sets the comparison slider and takes the screenshot.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from skimage import data

from common import ROOT
from noisefree.io import write_image
from noisefree.web import create_app


def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,860"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    with tempfile.TemporaryDirectory() as tmp:
        clean = data.astronaut()[40:340, 100:420].astype(np.float32) / 255
        noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
        path = write_image(Path(tmp) / "astronaut-noisy.png", noisy, dtype="uint8")
        while not server.started:
            time.sleep(0.05)
        driver.get(f"http://127.0.0.1:{port}/")
        WebDriverWait(driver, 20).until(lambda d: len(Select(d.find_element(By.ID, "method")).options) > 3)
        Select(driver.find_element(By.ID, "method")).select_by_value("color-blind")
        driver.find_element(By.ID, "file").send_keys(str(path))
        driver.find_element(By.ID, "go").click()
        WebDriverWait(driver, 300).until(lambda d: "Done in" in d.find_element(By.ID, "status").text)
        Select(driver.find_element(By.ID, "zoom")).select_by_value("2")
        driver.execute_script("const s = document.getElementById('split'); s.value = 45;"
                              "s.dispatchEvent(new Event('input'));")
        time.sleep(0.5)
        out = ROOT / "docs" / "figures" / "serve.png"
        driver.save_screenshot(str(out))
        from PIL import Image

        Image.open(out).convert("RGB").quantize(colors=256).save(out, optimize=True)  # a smaller file
        print(driver.find_element(By.ID, "status").text)
        print(f"wrote {out}")
    driver.quit()
    server.should_exit = True


if __name__ == "__main__":
    main()
