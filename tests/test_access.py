"""Protected products: every public route behind the access cookie or a token, the password form and its budget,
private products, iOS installs fetched without cookies, and passwords that are never shown."""
import plistlib
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from fenfa_lib.address_limits import Lockout
from fenfa_lib.models import Product
from fenfa_lib.web.access import ACCESS
from fenfa_lib.web.i18n import TEXTS

from browser import DEVICES, save_screenshot
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error
from protected import IPHONE, install_url, local, moved_clock
from shop import shop_ipa

PASSWORD = "open sesame 42"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    return moved_clock(monkeypatch)


def protect(api, product_id, **fields):
    return api.data("PUT", f"/admin/api/products/{product_id}", json={"access": "password", "password": PASSWORD,
                                                                        **fields})["product"]


@pytest.fixture
def protected(api, shop):
    protect(api, shop["product"]["id"])
    return shop


def enter_password(client, password=PASSWORD, slug="demo", **kwargs):
    return client.post(f"/products/{slug}/access", data={"password": password}, **kwargs)


def routes(shop):
    """(path, status with access) of every public route of the shop's product but the HTML page."""
    ios, android = shop["releases"]["ios"]["id"], shop["releases"]["android"]["id"]
    return [
        ("/api/products/demo", 200),
        ("/products/demo/qrcode.svg", 200),
        (f"/d/{android}", 200),
        (f"/d/{ios}", 200),
        (f"/ios/{ios}/manifest.plist", 200),
        (f"/icons/{ios}.png", 200),
        (f"/udid/profile.mobileconfig?variant={shop['variants']['ios']['id']}", 200),
        ("/api/update-check?product=demo&platform=android&version=0", 200),
        ("/products/demo/latest/android", 302),
        ("/products/demo/latest/ios/manifest.plist", 200),
    ]


def test_a_public_product_passes_untouched(client, shop):
    for path, status in routes(shop):
        assert client.get(path).status_code == status, path
    page = client.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True)
    assert "t=" not in install_url(page) and "<form" not in page


def test_without_access_every_route_answers_401_in_the_envelope(client, protected):
    for path, _ in routes(protected):
        response = client.get(path)
        assert_error(response, 401, "UNAUTHORIZED", "password")
        assert "private" in response.headers["Cache-Control"] and "public" not in response.headers["Cache-Control"]


def test_the_page_without_access_is_the_password_form(client, protected):
    response = client.get("/products/demo")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert '<form method="post" action="/products/demo/access">' in html and 'type="password"' in html
    assert protected["releases"]["android"]["id"] not in html and "/d/" not in html
    assert response.headers["Cache-Control"] == "no-store"


def test_with_the_cookie_every_route_opens(client, protected):
    assert enter_password(client).status_code == 303
    for path, status in routes(protected):
        response = client.get(path)
        assert response.status_code == status, (path, response.get_data(as_text=True)[:200])
    page = client.get("/products/demo")
    assert page.status_code == 200 and "Android phone" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize("token", ["admin", "session"])
def test_admins_always_get_in(app, client, protected, token):
    if token == "admin":
        headers = {"X-Auth-Token": ADMIN_TOKEN}
    else:
        headers = {}
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/admin").get_data(as_text=True)).group(1)
        assert client.post("/admin/sign-in", data={"token": ADMIN_TOKEN, "csrf": csrf}).status_code == 303
    for path, status in routes(protected):
        assert client.get(path, headers=headers).status_code == status, path
    assert client.get("/products/demo", headers=headers).status_code == 200


def test_an_upload_token_is_no_way_in(client, protected):
    assert client.get("/products/demo", headers={"X-Auth-Token": UPLOAD_TOKEN}).status_code == 401
    assert_error(client.get(f"/d/{protected['releases']['android']['id']}", headers={"X-Auth-Token": UPLOAD_TOKEN}),
                 401, "UNAUTHORIZED")


def test_a_forged_or_foreign_cookie_opens_nothing(app, client, protected, make_app):
    product_id = protected["product"]["id"]
    client.set_cookie(f"access_{product_id}", "not.a.signed.value")
    assert client.get("/products/demo").status_code == 401
    other = api_product(client, "other")
    enter_password(client)
    value = client.get_cookie(f"access_{product_id}").value
    client.set_cookie(f"access_{other['id']}", value)  # a genuine cookie of another product
    assert_error(client.get("/api/products/other"), 401, "UNAUTHORIZED")


def api_product(client, slug):
    response = client.post("/admin/api/products", json={"name": slug, "slug": slug, "access": "password",
                                                        "password": "another password"},
                           headers={"X-Auth-Token": ADMIN_TOKEN})
    assert response.status_code == 201
    return response.json["data"]["product"]


def test_the_cookie(client, protected):
    response = enter_password(client)
    assert response.headers["Location"] == "/products/demo"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"access_{protected['product']['id']}=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"):
        assert attribute in cookie
    assert "Secure" not in cookie
    https = enter_password(client, base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


def test_the_cookie_lasts_seven_days(client, protected, clock):
    enter_password(client)
    clock[0] += timedelta(days=7) - timedelta(seconds=5)
    assert client.get("/api/products/demo").status_code == 200
    clock[0] += timedelta(seconds=10)
    assert client.get("/api/products/demo").status_code == 401


def test_a_wrong_password_shows_the_form_again(client, protected):
    response = enter_password(client, "not the password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert 'data-failure="wrong_password"' in html and "Set-Cookie" not in response.headers
    assert client.get("/api/products/demo").status_code == 401


def test_ten_wrong_passwords_in_a_minute_are_429_even_for_the_right_one(app, client, protected):
    lockout_clock = FakeClock()
    app.extensions[ACCESS]["passwords"] = Lockout("password", clock=lockout_clock)
    for _ in range(10):
        assert enter_password(client, "wrong guess").status_code == 401
    response = enter_password(client)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert 'data-failure="too_many_passwords"' in response.get_data(as_text=True)
    assert enter_password(client, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 303  # its own budget
    lockout_clock.now += 61
    assert enter_password(client).status_code == 303


def test_the_password_budget_is_not_the_token_lockout(app, client, protected):
    for _ in range(10):
        enter_password(client, "wrong guess")
    assert client.get("/admin/api/products", headers={"X-Auth-Token": ADMIN_TOKEN}).status_code == 200


def test_a_new_password_ends_the_cookies_of_the_old_one(api, client, protected):
    enter_password(client)
    assert client.get("/api/products/demo").status_code == 200
    protect(api, protected["product"]["id"], password="a brand new password")
    assert client.get("/api/products/demo").status_code == 401
    assert enter_password(client, "a brand new password").status_code == 303


def test_a_private_product_has_no_form(api, client, shop):
    api.data("PUT", f"/admin/api/products/{shop['product']['id']}", json={"access": "private"})
    response = client.get("/products/demo")
    html = response.get_data(as_text=True)
    assert response.status_code == 401 and "<form" not in html and 'data-access="private"' in html
    assert "This app is private" in html
    assert enter_password(client).status_code == 303  # back to the page: nothing to enter
    assert "Set-Cookie" not in enter_password(client).headers
    assert_error(client.get("/api/products/demo"), 401, "UNAUTHORIZED", "private")
    assert client.get("/products/demo", headers={"X-Auth-Token": ADMIN_TOKEN}).status_code == 200


def test_making_a_product_private_ends_its_password_cookies(api, client, protected):
    enter_password(client)
    api.data("PUT", f"/admin/api/products/{protected['product']['id']}", json={"access": "private"})
    assert client.get("/products/demo").status_code == 401


def test_making_it_public_again_opens_it(api, client, protected):
    api.data("PUT", f"/admin/api/products/{protected['product']['id']}", json={"access": "public"})
    assert client.get("/products/demo").status_code == 200


def test_the_page_cache_keeps_the_form_and_the_page_apart(app, client, protected):
    visitor = app.test_client()
    assert "<form" in visitor.get("/products/demo").get_data(as_text=True)
    enter_password(client)
    assert "Android phone" in client.get("/products/demo").get_data(as_text=True)  # after the form was served
    stranger = app.test_client()
    assert "<form" in stranger.get("/products/demo").get_data(as_text=True)  # after the page was cached
    assert "Android phone" in client.get("/products/demo").get_data(as_text=True)


def test_a_public_product_beside_a_protected_one_stays_public(api, app, client, protected):
    other = api.create_product(name="Open", slug="open")
    api.create_variant(other["id"], platform="windows", display_name="Windows")
    assert client.get("/products/open").status_code == 200
    assert "Cache-Control" in client.get("/products/open").headers
    assert client.get("/products/open").headers["Cache-Control"] == "no-cache"


def test_ios_install_of_a_protected_product_without_cookies(app, client, protected):
    """The browser (with the cookie) shows the install link; iOS fetches the manifest and the IPA without it."""
    enter_password(client)
    html = client.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True)
    manifest_url = install_url(html)
    ios_id = protected["releases"]["ios"]["id"]
    assert urlsplit(manifest_url).path == f"/ios/{ios_id}/manifest.plist" and "t=" in manifest_url
    ios = app.test_client()  # no cookies
    response = ios.get(local(manifest_url))
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assets = {asset["kind"]: asset["url"] for asset in plistlib.loads(response.data)["items"][0]["assets"]}
    ipa = ios.get(local(assets["software-package"]))
    assert ipa.status_code == 200 and ipa.data == shop_ipa_bytes(client, ios_id)
    assert ios.get(local(assets["display-image"])).status_code == 200
    assert ios.get(f"/d/{ios_id}").status_code == 401  # the token is what let it in
    assert Product.get().access == "password"


def shop_ipa_bytes(client, release_id):
    return client.get(f"/d/{release_id}").data


def test_the_install_token_is_for_its_release_only(api, app, client, protected):
    enter_password(client)
    token = token_of(client)
    other = api.upload_release(protected["variants"]["ios"]["id"], "Second.ipa", shop_ipa())
    ios = app.test_client()
    assert ios.get(f"/ios/{protected['releases']['ios']['id']}/manifest.plist?t={token}").status_code == 200
    assert_error(ios.get(f"/ios/{other['id']}/manifest.plist?t={token}"), 401, "UNAUTHORIZED")
    assert_error(ios.get(f"/d/{protected['releases']['android']['id']}?t={token}"), 401, "UNAUTHORIZED")
    assert_error(ios.get(f"/api/products/demo?t={token}"), 401, "UNAUTHORIZED")  # a release's, not the product's


def token_of(client):
    html = client.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True)
    return parse_qs(urlsplit(install_url(html)).query)["t"][0]


def test_the_install_token_lasts_an_hour(app, client, protected, clock):
    enter_password(client)
    token = token_of(client)
    manifest = f"/ios/{protected['releases']['ios']['id']}/manifest.plist?t={token}"
    ios = app.test_client()
    clock[0] += timedelta(minutes=59)
    assert ios.get(manifest).status_code == 200
    clock[0] += timedelta(minutes=2)
    assert_error(ios.get(manifest), 401, "UNAUTHORIZED")
    fresh = token_of(client)  # the cached page was built again, with a new token
    assert fresh != token
    assert ios.get(f"/ios/{protected['releases']['ios']['id']}/manifest.plist?t={fresh}").status_code == 200


def test_a_forged_install_token_is_refused(app, protected):
    ios = app.test_client()
    assert_error(ios.get(f"/ios/{protected['releases']['ios']['id']}/manifest.plist?t=abc.def.ghi"), 401,
                 "UNAUTHORIZED")


def test_a_new_password_ends_the_install_tokens_of_the_old_one(api, app, client, protected):
    enter_password(client)
    token = token_of(client)
    protect(api, protected["product"]["id"], password="a brand new password")
    ios = app.test_client()
    assert ios.get(f"/ios/{protected['releases']['ios']['id']}/manifest.plist?t={token}").status_code == 401


def test_the_latest_ios_manifest_takes_the_install_token_of_the_highest_build(app, client, protected):
    enter_password(client)
    token = token_of(client)
    ios = app.test_client()
    response = ios.get(f"/products/demo/latest/ios/manifest.plist?t={token}")
    assert response.status_code == 200
    package = plistlib.loads(response.data)["items"][0]["assets"][0]["url"]
    assert f"t={token}" in package and ios.get(local(package)).status_code == 200


def test_the_json_and_the_update_check_carry_install_tokens(client, protected):
    enter_password(client)
    page = client.get("/api/products/demo").json["data"]
    ios = next(variant for variant in page["variants"] if variant["platform"] == "ios")
    assert "t%3D" in ios["releases"][0]["urls"]["ios_install"]
    assert page["product"]["access"] == "password" and page["product"]["has_password"] is True
    latest = client.get("/api/update-check?product=demo&platform=android&version=0").json["data"]["latest"]
    assert "?t=" in latest["download_url"]


def test_a_range_of_a_protected_build_needs_access_too(client, protected):
    path = f"/d/{protected['releases']['android']['id']}"
    assert client.get(path, headers={"Range": "bytes=0-9"}).status_code == 401
    assert client.head(path).status_code == 401
    enter_password(client)
    assert client.get(path, headers={"Range": "bytes=0-9"}).status_code == 206


# The admin product API.


def test_passwords_are_never_returned(api, client, protected):
    product_id = protected["product"]["id"]
    answers = [api.call("GET", f"/admin/api/products/{product_id}"), api.call("GET", "/admin/api/products"),
               api.call("PUT", f"/admin/api/products/{product_id}", json={"password": "yet another one"}),
               client.get("/api/products/demo", headers={"X-Auth-Token": ADMIN_TOKEN})]
    for response in answers:
        text = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "scrypt" not in text and "password_hash" not in text and "yet another one" not in text
        assert PASSWORD not in text
    product = answers[0].json["data"]["product"]
    assert (product["access"], product["has_password"]) == ("password", True)
    assert Product.get().password_hash.startswith("scrypt$32768$8$1$")


def test_a_new_product_is_public_without_a_password(api):
    product = api.create_product()
    assert (product["access"], product["has_password"]) == ("public", False)


def test_a_product_created_protected(api, client):
    product = api.create_product(access="password", password=PASSWORD)
    assert (product["access"], product["has_password"]) == ("password", True)
    assert client.get("/products/demo").status_code == 401
    assert enter_password(client).status_code == 303


@pytest.mark.parametrize(("body", "message"), [
    ({"access": "password"}, "password is required when access is password"),
    ({"access": "password", "password": "short"}, "password must be 8 to 1024 characters"),
    ({"access": "password", "password": 12345678}, "password must be a string"),
    ({"access": "password", "password": "x" * 1025}, "password must be 8 to 1024 characters"),
    ({"access": "secret"}, "access must be one of: public, password, private"),
    ({"access": None}, "access is required"),
    ({"access": 1}, "access must be a string"),
])
def test_bad_access_fields_are_refused(api, body, message):
    response = api.call("POST", "/admin/api/products", json={"name": "Demo", "slug": "demo", **body})
    assert_error(response, 400, "BAD_REQUEST", message)
    assert Product.select().count() == 0


def test_an_update_to_password_access_needs_a_password_unless_one_is_set(api, shop):
    product_id = shop["product"]["id"]
    assert_error(api.call("PUT", f"/admin/api/products/{product_id}", json={"access": "password"}), 400,
                 "BAD_REQUEST", "password is required")
    api.data("PUT", f"/admin/api/products/{product_id}", json={"password": PASSWORD})  # set, still public
    assert api.data("PUT", f"/admin/api/products/{product_id}", json={"access": "password"})["product"][
        "has_password"] is True
    assert_error(api.call("PUT", f"/admin/api/products/{product_id}", json={"password": None}), 400, "BAD_REQUEST",
                 "password is required")


def test_a_password_is_cleared_with_null_once_access_no_longer_needs_it(api, protected):
    product_id = protected["product"]["id"]
    product = api.data("PUT", f"/admin/api/products/{product_id}", json={"access": "private", "password": None})[
        "product"]
    assert (product["access"], product["has_password"]) == ("private", False)


# The password form in a real browser, on a phone.


@pytest.mark.parametrize(("locale", "wrong_text", "button"), [
    ("en-US", "That password is not right.", "Open"),
    ("zh-CN", "密码不正确。", "打开"),
])
def test_the_password_form_on_a_phone(api, chromium, live_server, protected, tmp_path, locale, wrong_text, button):
    context = chromium.new_context(**DEVICES["iphone"], locale=locale)
    errors = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server}/products/demo")
        field = page.get_by_label(TEXTS[locale[:2]]["password_label"])
        assert field.is_visible() and field.get_attribute("type") == "password"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        submit = page.get_by_role("button", name=button)
        assert submit.bounding_box()["height"] >= 44  # a thumb's target
        field.fill("not the password")
        submit.click()
        assert page.get_by_role("alert").inner_text() == wrong_text
        save_screenshot(page, tmp_path, f"password-form-{locale}")
        page.get_by_label(TEXTS[locale[:2]]["password_label"]).fill(PASSWORD)
        page.get_by_role("button", name=button).click()
        page.wait_for_url(f"{live_server}/products/demo")
        first = page.locator("#cards > .card").first
        assert first.get_attribute("data-platform") == "ios"
        assert "t%3D" in first.locator(".button.primary").get_attribute("href")  # the install link carries a token
        save_screenshot(page, tmp_path, f"protected-{locale}")
        assert errors == []
    finally:
        context.close()
