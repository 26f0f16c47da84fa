"""The product page in real Chromium, as an iPhone, an iPad, an Android phone and a Windows PC."""
import io
import time
from urllib.parse import quote, urlsplit

import pytest
import zxingcpp
from PIL import Image

from browser import admin_get, save_screenshot
from profiles import ipa_with_profile, signed_profile
from shop import EXE, SCRIPT

FIRST_CARD = {"iphone": "ios", "ipad": "ios", "android": "android", "windows": "windows"}


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
    assert page.locator(".card .button.primary:visible").count() == 1  # only the visitor's own build
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
    assert events[0]["product_id"] == shop["product"]["id"] and events[0]["user_agent"].startswith("Mozilla/5.0")
    assert view.errors == []


def test_the_icon_shows_when_the_page_is_served_on_another_domain(api, live_server, open_as, shop):
    """The CSP allows images from the page's own host only: the icon must not name the primary domain."""
    primary = live_server.replace("127.0.0.1", "localhost")
    api.data("PUT", "/admin/api/settings", json={"primary_domain": primary})
    view = open_as("iphone")
    page = view.page
    page.goto(f"{live_server}/products/demo")
    icon = page.locator("img.app-icon")
    icon.evaluate("img => img.decode()")
    assert icon.evaluate("img => img.naturalWidth") > 0
    install = page.locator(".card.recommended .button.primary")
    manifest = f"{primary}/ios/{install.get_attribute('data-release')}/manifest.plist"
    assert install.get_attribute("href").endswith("url=" + quote(manifest, safe=""))
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
    lines = page.locator(".changelog p").inner_text().splitlines()
    assert [line.strip() for line in lines if line.strip()] == [SCRIPT, "second line"]
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


@pytest.mark.parametrize("device,notice", [("wechat", "in_app_browser"), ("iphone", "needs_https")])
def test_visitors_are_told_what_stands_between_them_and_an_install(live_server, open_as, shop, tmp_path, device,
                                                                 notice):
    view = open_as(device)
    page = view.page
    page.goto(f"{live_server}/products/demo")
    assert page.locator(f'[data-notice="{notice}"]').is_visible()
    assert page.locator(".other-platforms").get_attribute("open") is None  # other platforms stay folded
    save_screenshot(page, tmp_path, f"notice-{device}")
    assert view.errors == []


def test_an_ipad_only_build_on_an_iphone_says_why_and_installs_nothing(api, live_server, open_as, tmp_path):
    variant = api.create_variant(api.create_product()["id"], platform="ios", display_name="iPad",
                                 identifier="com.icyleaf.bundle")
    api.upload_release(variant["id"], "ipad.ipa", ipa_with_profile("ios-ipad-only-cgbi-icons.ipa",
                                                                   signed_profile("enterprise")))
    view = open_as("iphone")
    page = view.page
    page.goto(f"{live_server}/products/demo")
    card = page.locator('#cards > .card[data-platform="ios"]')
    assert card.locator(".note.verdict").inner_text() == "This build is for iPad only."
    assert card.locator(".button.primary").count() == 0
    save_screenshot(page, tmp_path, "verdict-ipad-only-on-iphone")
    ipad = open_as("ipad")
    ipad.page.goto(f"{live_server}/products/demo")
    assert ipad.page.locator('#cards > .card[data-platform="ios"] .button.primary').is_visible()
    assert ipad.page.locator(".other-platforms").count() == 0  # nothing else was left to fold away
    save_screenshot(ipad.page, tmp_path, "verdict-ipad-only-on-ipad")
    assert view.errors == [] and ipad.errors == []
