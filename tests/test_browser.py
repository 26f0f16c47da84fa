"""The product page in real Chromium, as an iPhone, an iPad, an Android phone and a Windows PC."""
import io
import time
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from browser import admin_get, chromium, live_server, open_as, save_screenshot  # noqa: F401 (fixtures)

EXE = b"MZ" + bytes(range(256)) * 8
DMG = b"\0" * 1000 + b"koly" + b"\0" * 508
SCRIPT = "<script>window.pwned=1</script>"
FIRST_CARD = {"iphone": "ios", "ipad": "ios", "android": "android", "windows": "windows"}



@pytest.fixture
def shop(api):
    """One product with a build per platform, in an admin order that is no visitor's order."""
    product = api.create_product(name="Field Notes", description="Beta builds for the field team.")
    pid = product["id"]
    windows = api.create_variant(pid, platform="windows", display_name="Windows 10/11 (x64)", sort_order=0)
    macos = api.create_variant(pid, platform="macos", display_name="macOS", sort_order=1)
    android = api.create_variant(pid, platform="android", display_name="Android", identifier="com.politedroid",
                                 sort_order=2)
    ios = api.create_variant(pid, platform="ios", display_name="iPhone & iPad", identifier="sg.vp.UnCrackable-2",
                             sort_order=3)
    api.upload_release(windows["id"], "FieldNotesSetup.exe", EXE, changelog="Installer signed.")
    api.upload_release(macos["id"], "FieldNotes.dmg", DMG)
    api.upload_release(android["id"], "android-politedroid-minsdk3-tiny.apk", version="1.2", build="3")
    api.upload_release(android["id"], "android-politedroid-minsdk3-tiny.apk", channel="beta",
                       changelog="Offline maps.\nFaster sync.\nFixed a crash when the camera is denied.")
    api.upload_release(ios["id"], "ios-uncrackable2-xml-plist-cgbi-icons.ipa",
                       changelog="New onboarding.\nDark mode fixes.")
    return product


@pytest.mark.parametrize("device", list(FIRST_CARD))
def test_each_device_sees_its_own_build_first(live_server, open_as, shop, tmp_path, device):
    view = open_as(device)
    page = view.page
    page.goto(f"{live_server}/products/demo")
    first = page.locator("#cards > .card").first
    assert first.get_attribute("data-platform") == FIRST_CARD[device]
    assert page.locator(".card.recommended").count() == 1
    assert "recommended" in first.get_attribute("class")
    button = first.locator(".button.primary")
    href = button.get_attribute("href")
    if FIRST_CARD[device] == "ios":
        assert href.startswith("itms-services://?action=download-manifest&url=http%3A%2F%2F127.0.0.1")
        register = first.locator(".button.secondary")
        assert register.get_attribute("href").startswith("/udid/profile.mobileconfig?variant=var_")
    else:
        assert urlsplit(href).path.startswith("/d/rel_")
    assert button.is_visible()
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    save_screenshot(page, tmp_path, device)
    assert view.errors == []


@pytest.mark.parametrize("device", ["android", "windows"])
def test_download_clicks_are_reported(live_server, open_as, shop, device):
    view = open_as(device)
    page = view.page
    page.goto(f"{live_server}/products/demo")
    button = page.locator(f'.card[data-platform="{device}"] .button.primary')
    release_id = button.get_attribute("data-release")
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.endswith((".apk", ".exe"))
    path = f"/admin/api/events?type=click&release_id={release_id}"
    deadline = time.monotonic() + 10
    while admin_get(live_server, path)["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    events = admin_get(live_server, path)["items"]
    assert len(events) == 1
    assert events[0]["product_id"] == shop["id"] and events[0]["user_agent"].startswith("Mozilla/5.0")
    assert view.errors == []


def test_markup_in_names_and_changelogs_stays_text(api, live_server, open_as, tmp_path):
    product = api.create_product(name=f"Evil {SCRIPT}", slug="evil", description=SCRIPT)
    variant = api.create_variant(product["id"], platform="windows", display_name=SCRIPT)
    api.upload_release(variant["id"], "setup.exe", EXE, changelog=f"{SCRIPT}\nsecond line")
    view = open_as("windows")
    page = view.page
    page.goto(f"{live_server}/products/evil")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.title() == f"Evil {SCRIPT}"
    assert page.locator("h1").inner_text() == f"Evil {SCRIPT}"
    assert page.locator(".card h2").inner_text() == SCRIPT
    assert page.locator(".changelog p").inner_text() == f"{SCRIPT}\nsecond line"
    save_screenshot(page, tmp_path, "escaping")
    assert view.errors == []


def test_qr_code_on_the_page_decodes_to_the_page_url(live_server, open_as, shop):
    view = open_as("windows")
    page = view.page
    page.goto(f"{live_server}/products/demo")
    shot = Image.open(io.BytesIO(page.locator(".qr-code svg").screenshot()))
    framed = Image.new("RGB", (shot.width + 80, shot.height + 80), "white")
    framed.paste(shot, (40, 40))
    assert [result.text for result in zxingcpp.read_barcodes(framed)] == [f"{live_server}/products/demo"]
    assert view.errors == []
