"""The admin panel in real Chromium, driven as an admin would: sign in, build a catalog, upload with the
progress bar, publish, smart upload, settings, statistics, an export, and sign out for good."""
import re

import pytest

from browser import admin_get, save_screenshot
from corpus import require_samples
from helpers import ADMIN_TOKEN

APK = "android-politedroid-minsdk3-tiny.apk"
IPA = "ios-iphone-binary-plist-no-icons.ipa"
PHONE, DESKTOP = "iphone", "windows"


def sign_in(page, base):
    page.goto(f"{base}/admin")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/products")


def test_an_admin_runs_the_catalog_from_the_panel(live_server, open_as, tmp_path):
    view = open_as(DESKTOP)
    page = view.page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server)

    create = page.locator("details.create form")
    create.get_by_label("Name", exact=True).fill("Polite Droid")
    create.get_by_label("Slug").fill("polite")
    create.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/admin/products/prd_\w+$"))
    product_id = page.url.rsplit("/", 1)[1]

    variant_form = page.locator("details.create form")
    variant_form.get_by_label("Platform").select_option("android")
    variant_form.get_by_label("Display name").fill("Android")
    variant_form.get_by_label("Bundle ID / package name").fill("com.politedroid")
    variant_form.get_by_role("button", name="Create").click()
    section = page.locator("section.variant").first
    section.wait_for()

    upload = section.locator("form[data-upload]")
    upload.get_by_label("Build file").set_input_files(str(require_samples() / APK))
    upload.get_by_label("Channel").fill("beta")
    upload.get_by_role("button", name="Upload").click()
    progress = upload.locator("progress")
    page.wait_for_function("el => el.value === 100", arg=progress.element_handle())
    links = upload.locator(".upload-links a")
    links.first.wait_for()
    assert any("/d/rel_" in (links.nth(index).get_attribute("href") or "") for index in range(links.count()))
    page.reload()
    assert section.locator("tbody tr").count() == 1
    assert "1.3" in section.locator("tbody tr").first.inner_text()

    with page.expect_navigation():
        section.get_by_role("button", name="Unpublish").click()
    page.locator("section.variant .state.off").wait_for()
    variant = admin_get(live_server, f"/admin/api/products/{product_id}")["variants"][0]
    assert variant["published"] is False
    with page.expect_navigation():
        page.locator("section.variant").get_by_role("button", name="Publish", exact=True).click()
    page.locator("section.variant .variant-head .state.on").wait_for()
    assert admin_get(live_server, f"/admin/api/products/{product_id}")["variants"][0]["published"] is True

    page.goto(f"{live_server}/admin/variants/{variant['id']}/stats")
    assert page.locator("svg.chart rect.bar").count() == 30
    assert page.locator(".totals dd").first.inner_text() == "0"

    page.goto(f"{live_server}/admin/smart-upload")
    smart = page.locator("#smart-upload")
    smart.locator('input[type="file"]').set_input_files(str(require_samples() / IPA))
    smart.locator("#parsed").wait_for()
    assert smart.locator('[data-field="identifier"]').inner_text() == "com.icyleaf.AppInfoDemo"
    assert smart.get_by_label("Store into").input_value() == ""  # no variant yet: a new product
    smart.get_by_role("button", name="Upload").click()
    smart.locator(".product-link").wait_for()
    products = admin_get(live_server, "/admin/api/products")["items"]
    assert len(products) == 2 and smart.locator(".product-link").get_attribute("href") == (
        f"/admin/products/{products[0]['id']}")

    page.goto(f"{live_server}/admin/settings")
    page.get_by_label("Organization").fill("Browser Test Ltd")
    with page.expect_navigation():  # saved, the page reloads
        page.locator("form.settings > .form-actions").get_by_role("button", name="Save").click()
    assert page.get_by_label("Organization").input_value() == "Browser Test Ltd"
    assert admin_get(live_server, "/admin/api/settings")["organization"] == "Browser Test Ltd"

    page.goto(f"{live_server}/admin/exports")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download releases.csv").click()
    csv_text = download.value.path().read_text(encoding="utf-8")
    assert csv_text.startswith("release_id,") and csv_text.count("\n") == 3
    assert view.errors == []


def test_without_the_csrf_header_the_session_is_refused_and_signing_out_is_for_good(live_server, open_as, chromium):
    view = open_as(DESKTOP)
    page = view.page
    sign_in(page, live_server)
    answer = page.evaluate("""() => fetch('/admin/api/products', {method: 'POST', body: '{"name":"x","slug":"x"}',
                                     headers: {'Content-Type': 'application/json'}}).then(r => r.status)""")
    assert answer == 403
    with_header = page.evaluate("""() => fetch('/admin/api/products', {headers: {'X-CSRF-Token':
        document.querySelector('meta[name=csrf-token]').content}}).then(r => r.status)""")
    assert with_header == 200
    cookies = view.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/admin")
    copy = chromium.new_context()
    copy.add_cookies(cookies)
    old_session = copy.new_page()
    old_session.goto(f"{live_server}/admin/products")
    assert old_session.url.startswith(f"{live_server}/admin?next=")
    assert old_session.get_by_label("Admin token").is_visible()
    copy.close()


PAGES = ["products", "product", "smart-upload", "stats", "events", "devices", "exports", "settings"]


@pytest.mark.parametrize("device", [PHONE, DESKTOP])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_page_fits_the_screen_in_both_languages(live_server, open_as, shop, tmp_path, device, language):
    view = open_as(device)
    page = view.page
    page.goto(f"{live_server}/admin/language/{language}")
    save_screenshot(page, tmp_path, f"admin-{language}-{device}-sign-in")
    page.locator("#token").fill(ADMIN_TOKEN)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/admin/products")
    paths = {
        "products": "/admin/products", "product": f"/admin/products/{shop['product']['id']}",
        "smart-upload": "/admin/smart-upload", "stats": f"/admin/variants/{shop['variants']['ios']['id']}/stats",
        "events": "/admin/events", "devices": "/admin/devices", "exports": "/admin/exports",
        "settings": "/admin/settings",
    }
    for name in PAGES:
        page.goto(live_server + paths[name])
        assert page.locator("html").get_attribute("lang") == language
        width = page.viewport_size["width"]
        wider = page.evaluate("""width => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1 && !el.parentElement.closest('.table-wrap'))
            .map(el => el.tagName + '.' + el.className).slice(0, 5)""", width)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} overflows: {wider}"
        for control in page.locator("main input:visible, main select:visible, main textarea:visible").all():
            label = control.evaluate("el => (el.labels && el.labels.length) || el.getAttribute('aria-label')")
            assert label, f"{name}: a control without a label: {control.evaluate('el => el.outerHTML')}"
        save_screenshot(page, tmp_path, f"admin-{language}-{device}-{name}")
    assert view.errors == []


def test_settings_clear_a_secret_and_test_the_apple_connection(live_server, open_as, api):
    api.data("PUT", "/admin/api/settings", json={"s3_access_key": "AKIA-KEPT-SECRET"})
    view = open_as(DESKTOP)
    page = view.page
    sign_in(page, live_server)
    page.goto(f"{live_server}/admin/settings")
    secret = page.get_by_label("S3 access key")
    assert secret.input_value() == "" and "configured" in secret.get_attribute("placeholder")
    assert "AKIA-KEPT-SECRET" not in page.content()
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("the Apple Developer API is not configured").wait_for()
    page.get_by_label("Clear it").check()
    with page.expect_navigation():
        page.locator("form.settings > .form-actions").get_by_role("button", name="Save").click()
    assert page.get_by_label("Clear it").count() == 0
    assert view.errors == []


def test_devices_are_registered_with_apple_from_the_devices_page(live_server, open_as, api):
    view = open_as(PHONE)
    page = view.page
    sign_in(page, live_server)
    page.goto(f"{live_server}/admin/devices")
    page.get_by_role("button", name="Register all unregistered").click()
    page.get_by_text("the Apple Developer API is not configured").wait_for()  # the API's 400, shown in place
    assert [error for error in view.errors if "status of 400" not in error] == []
