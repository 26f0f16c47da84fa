"""Browser-test fixtures: the app on a real waitress server on loopback, Debian's Chromium driven by
Playwright, and device profiles. `playwright install` cannot work here; CI installs chromium by apt."""
import json
import shutil
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest
from waitress import wasyncore

from fenfa_lib.web.server import build_server

from corpus import skip_or_fail
from helpers import ADMIN_TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOT_DIR = Path("/tmp/fenfa-screens")
DEVICES = {
    "iphone": {
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
    },
    # iPadOS Safari asks for desktop sites: a Mac user agent, told apart only by its touch points.
    "ipad": {
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "viewport": {"width": 820, "height": 1180}, "device_scale_factor": 2, "has_touch": True,
    },
    "android": {
        "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/126.0.0.0 Mobile Safari/537.36",
        "viewport": {"width": 412, "height": 915}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
    },
    # WeChat's in-app browser on an iPhone, which blocks installs.
    "wechat": {
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
        "viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
        "locale": "zh-CN",
    },
    "windows": {
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/126.0.0.0 Safari/537.36",
        "viewport": {"width": 1280, "height": 800},
    },
}
IPAD_TOUCH_POINTS = 5


@pytest.fixture(scope="session")
def chromium(playwright):
    """Debian's Chromium; the test fails on CI and is skipped elsewhere when it is not installed."""
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install chromium")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def live_server(app):
    """The test's app served on 127.0.0.1 by the server `python fenfa.py` runs; yields its base URL."""
    app.config["FENFA"] = {**app.config["FENFA"], "host": "127.0.0.1", "port": 0}
    temp_dir = tempfile.tempdir  # build_server points it at the data dir, which goes with the test
    server = build_server(app)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    # Closing the sockets from the server's own loop thread ends its loop cleanly.
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()
    tempfile.tempdir = temp_dir


class DevicePage:
    """A page opened as one device, collecting console errors and uncaught exceptions."""

    def __init__(self, browser, device):
        self.context = browser.new_context(**DEVICES[device])
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(
            f"{message.text} ({message.location.get('url')})"))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        if device == "ipad":
            session = self.context.new_cdp_session(self.page)
            session.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": IPAD_TOUCH_POINTS})

    def close(self):
        self.context.close()


@pytest.fixture
def open_as(chromium):
    """open_as(device) -> DevicePage; every page is closed after the test."""
    opened = []

    def open_page(device):
        opened.append(DevicePage(chromium, device))
        return opened[-1]

    yield open_page
    for device_page in opened:
        device_page.close()


def save_screenshot(page, tmp_path, name):
    """A full-page screenshot in the test's tmp_path, copied to /tmp/fenfa-screens for review."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SCREENSHOT_DIR / path.name)
    return path


def admin_get(base_url, path):
    """GET an admin API path on the live server; returns the envelope's data."""
    request = urllib.request.Request(base_url + path, headers={"X-Auth-Token": ADMIN_TOKEN})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]
