"""The admin panel's session: signing in at /admin, the session working the API with its CSRF token,
signing out on the server, the lockout after failed sign-ins, and every page in both languages."""
import re

import pytest

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error

PAGES = ["/admin/products", "/admin/smart-upload", "/admin/events", "/admin/devices", "/admin/exports",
         "/admin/settings"]


def csrf_of(response):
    return re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def page_csrf(client):
    """The CSRF token a signed-in page hands its script."""
    page = client.get("/admin/products").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def sign_in(client, token, **form):
    csrf = csrf_of(client.get("/admin"))
    return client.post("/admin/sign-in", data={"csrf": csrf, "token": token, **form})


def signed_in(client):
    return client.get("/admin/products").status_code == 200


def test_sign_in_sets_a_strict_http_only_session_and_opens_the_panel(client):
    response = sign_in(client, ADMIN_TOKEN)
    assert (response.status_code, response.headers["Location"]) == (303, "/admin/products")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert ADMIN_TOKEN not in cookie
    page = client.get("/admin/products").get_data(as_text=True)
    assert "iOS refuses to install" in page  # the deployment warning admins see
    assert client.get("/admin").headers["Location"] == "/admin/products"


def test_pages_send_browsers_that_are_not_signed_in_to_sign_in_and_back(client):
    response = client.get("/admin/events?type=visit")
    assert response.status_code == 303 and response.headers["Location"] == "/admin?next=/admin/events?type%3Dvisit"
    back = sign_in(client, ADMIN_TOKEN, next="/admin/events?type=visit")
    assert back.headers["Location"] == "/admin/events?type=visit"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin/", "/products/demo"])
def test_sign_in_returns_only_to_admin_pages(client, target):
    assert sign_in(client, ADMIN_TOKEN, next=target).headers["Location"] == "/admin/products"


@pytest.mark.parametrize("token", ["", "wrong", UPLOAD_TOKEN])
def test_only_admin_tokens_sign_in(client, token):
    response = sign_in(client, token)
    assert response.status_code == 401
    assert "not an admin token" in response.get_data(as_text=True)
    assert not signed_in(client)


def test_forms_need_the_csrf_token(client):
    client.get("/admin")
    assert client.post("/admin/sign-in", data={"csrf": "forged", "token": ADMIN_TOKEN}).status_code == 400
    assert client.post("/admin/sign-in", data={"token": ADMIN_TOKEN}).status_code == 400
    assert client.post("/admin/sign-in", data={"csrf": "é", "token": ADMIN_TOKEN}).status_code == 400
    assert not signed_in(client)


def test_the_session_works_the_api_and_the_exports_with_its_csrf_header(client):
    sign_in(client, ADMIN_TOKEN)
    csrf = page_csrf(client)
    created = client.post("/admin/api/products", json={"name": "From the panel", "slug": "panel"},
                          headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert client.get("/admin/api/settings", headers={"X-CSRF-Token": csrf}).status_code == 200
    export = client.get("/admin/exports/releases.csv", headers={"X-CSRF-Token": csrf})
    assert export.status_code == 200 and export.get_data(as_text=True).startswith("release_id,")


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "forged"}])
def test_the_session_without_its_csrf_header_is_refused(client, headers):
    sign_in(client, ADMIN_TOKEN)
    response = client.post("/admin/api/products", json={"name": "Forged", "slug": "forged"}, headers=headers)
    assert_error(response, 403, "FORBIDDEN", "X-CSRF-Token")
    assert_error(client.get("/admin/exports/events.csv", headers=headers), 403, "FORBIDDEN")


def test_signing_out_ends_the_session_on_the_server(app, client):
    sign_in(client, ADMIN_TOKEN)
    csrf = page_csrf(client)
    saved_cookie = client.get_cookie("session").value
    response = client.post("/admin/sign-out", data={"csrf": csrf_of(client.get("/admin/products"))})
    assert response.status_code == 303
    assert not signed_in(client)
    thief = app.test_client()
    thief.set_cookie("session", saved_cookie)
    assert thief.get("/admin/products").status_code == 303
    assert_error(thief.get("/admin/api/products", headers={"X-CSRF-Token": csrf}), 401, "UNAUTHORIZED")


def test_removing_the_token_from_the_configuration_ends_the_session(app, client):
    sign_in(client, ADMIN_TOKEN)
    app.config["FENFA"]["admin_token"] = ["a-new-token"]
    assert not signed_in(client)


def test_ten_failed_sign_ins_lock_the_address_out_for_a_minute(client, api):
    for _ in range(10):
        assert sign_in(client, "wrong").status_code == 401
    locked = sign_in(client, ADMIN_TOKEN)
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 60
    refused = api.call("GET", "/admin/api/products")  # token checks from the address are locked out too
    assert_error(refused, 429, "TOO_MANY_REQUESTS")
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_ten_unknown_tokens_lock_the_address_out_but_missing_ones_spend_nothing(api):
    for _ in range(20):
        assert_error(api.call("GET", "/admin/api/products", token=""), 401, "UNAUTHORIZED", "is required")
    for _ in range(9):
        assert_error(api.call("GET", "/admin/api/products", token="guess"), 401, "UNAUTHORIZED")
    assert api.call("GET", "/admin/api/products").status_code == 200
    assert_error(api.call("GET", "/admin/api/products", token="guess"), 401, "UNAUTHORIZED")
    assert_error(api.call("GET", "/admin/api/products"), 429, "TOO_MANY_REQUESTS")


def test_other_addresses_are_not_locked_out(api):
    for _ in range(10):
        api.call("GET", "/admin/api/products", token="guess")
    other = api.call("GET", "/admin/api/products", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


def test_a_signed_in_browser_sees_the_https_warning_on_product_pages(api, client):
    api.create_product()
    assert "iOS refuses to install" not in client.get("/products/demo").get_data(as_text=True)
    sign_in(client, ADMIN_TOKEN)
    assert "iOS refuses to install" in client.get("/products/demo").get_data(as_text=True)


def test_the_session_cookie_is_secure_once_the_site_is_https(app, api, client):
    assert "Secure" not in sign_in(client, ADMIN_TOKEN).headers["Set-Cookie"]
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    assert "Secure" in sign_in(app.test_client(), ADMIN_TOKEN).headers["Set-Cookie"]


@pytest.mark.parametrize("language,marker", [("en", "Sign out"), ("zh", "退出登录")])
def test_every_page_renders_in_both_languages(client, shop, language, marker):
    sign_in(client, ADMIN_TOKEN)
    assert client.get(f"/admin/language/{language}?next=/admin/settings").headers["Location"] == "/admin/settings"
    variant_id = shop["variants"]["ios"]["id"]
    pages = PAGES + [f"/admin/products/{shop['product']['id']}", f"/admin/variants/{variant_id}/stats"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:500])
        page = response.get_data(as_text=True)
        assert marker in page and f'<html lang="{language}">' in page, path
        assert response.headers["Cache-Control"] == "no-store"


def test_the_language_follows_the_browser_until_switched(client):
    sign_in(client, ADMIN_TOKEN)
    assert "退出登录" in client.get("/admin/products", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(
        as_text=True)
    client.get("/admin/language/en")
    assert "Sign out" in client.get("/admin/products", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert client.get("/admin/language/fr").status_code == 404


def test_unknown_rows_are_html_404s_on_panel_pages(client):
    sign_in(client, ADMIN_TOKEN)
    response = client.get("/admin/products/prd_0000000000000000")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "prd_0000000000000000 not found" in response.get_data(as_text=True)


def test_the_stats_chart_draws_a_bar_for_todays_downloads(client, shop):
    release = shop["releases"]["windows"]
    for _ in range(3):
        client.get(f"/d/{release['id']}")
    sign_in(client, ADMIN_TOKEN)
    page = client.get(f"/admin/variants/{shop['variants']['windows']['id']}/stats").get_data(as_text=True)
    chart = page[page.index("<svg"):page.index("</svg>")]
    assert chart.count('<rect class="bar"') == 30
    today = re.findall(r'height="([\d.]+)"><title>([\d-]+): (\d+)</title>', chart)[-1]
    assert today[2] == "3" and float(today[0]) > 0
    assert all(float(height) == 0 for height, _, count in re.findall(
        r'height="([\d.]+)"><title>([\d-]+): (\d+)</title>', chart)[:-1])
    assert '>5</text>' in chart  # the scale's top: the first round number past 3


@pytest.mark.parametrize("path", ["/admin/language/en?next=/admin/%0d%0aSet-Cookie:%20x=1",
                                  "/admin?next=/admin/%0aLocation:%20//evil"])
def test_a_next_path_with_line_breaks_is_ignored_not_a_crash(client, path):
    response = client.get(path)
    assert response.status_code in (200, 303) and "\n" not in response.headers.get("Location", "")


def test_guessing_tokens_on_the_product_page_counts_against_the_lockout(api, client):
    api.create_product()
    for _ in range(10):
        client.get("/products/demo", headers={"X-Auth-Token": "guess"})
    assert "iOS refuses to install" not in client.get("/products/demo", headers={"X-Auth-Token": ADMIN_TOKEN}).get_data(
        as_text=True)  # locked out: the right token shows nothing more either
    assert_error(api.call("GET", "/admin/api/products"), 429, "TOO_MANY_REQUESTS")


def test_the_pager_keeps_only_the_query_string(client, shop):
    sign_in(client, ADMIN_TOKEN)
    for _ in range(25):
        client.post("/events", json={"type": "click", "release_id": shop["releases"]["windows"]["id"]})
    page = client.get("/admin/events?endpoint=x&_anchor=y&type=click")
    assert page.status_code == 200
    assert 'href="/admin/events?endpoint=x&amp;_anchor=y&amp;type=click&amp;offset=20"' in page.get_data(as_text=True)


def test_sessions_end_after_a_week_or_twelve_idle_hours(client):
    from datetime import timedelta

    from fenfa_lib.models import AdminSession, utcnow

    sign_in(client, ADMIN_TOKEN)
    assert signed_in(client)
    AdminSession.update(last_seen_at=utcnow() - timedelta(hours=13)).execute()
    assert not signed_in(client)
    sign_in(client, ADMIN_TOKEN)
    AdminSession.update(created_at=utcnow() - timedelta(days=8)).execute()
    assert not signed_in(client)
    assert AdminSession.select().count() == 0
