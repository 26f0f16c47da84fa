"""The audit log through HTTP: a row for each admin write route of the URL map (a new route without a case here
fails), with its actor, action, target and address; none for refused writes or reads; every sign-in, ok or
failed; a busy database costing the row, not the write; and GET /admin/api/audit with its filters."""
import io
from datetime import timedelta

import pytest
from peewee import OperationalError
from test_admin_pages import page_csrf, sign_in

from fenfa_lib.models import AuditEntry

from apple_fake import ISSUER_ID, KEY_ID, running_fake_apple
from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api, assert_error
from iphone import register
from live import free_port
from shop import EXE

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
NOT_WRITES = {"upload.parse_app"}  # a POST that stores nothing
UDID = "00008030-001A2B3C4D5E6F70"
APK = "android-politedroid-minsdk3-tiny.apk"


@pytest.fixture(scope="module")
def fake_apple():
    with running_fake_apple() as fake:
        yield fake


@pytest.fixture
def world(make_app, fake_apple):
    """An admin API client of an app with one of everything an admin write can act on; {"api", name: ID}."""
    api = Api(make_app(apple_api_url=fake_apple.base_url, webhook_allow_private=True).test_client(), ADMIN_TOKEN)
    api.data("PUT", "/admin/api/settings", json={"apple_key_id": KEY_ID, "apple_issuer_id": ISSUER_ID,
                                                  "apple_private_key": fake_apple.private_pem,
                                                  "apple_team_id": "TEAM123456"})
    product = api.create_product()
    windows = api.create_variant(product["id"], platform="windows", display_name="Windows", identifier="setup")
    ios = api.create_variant(product["id"], platform="ios", display_name="iPhone", identifier="com.example.ios")
    release = api.upload_release(windows["id"], "setup.exe", EXE)
    assert register(api.client, ios["id"], UDID).status_code == 301
    device = api.data("GET", "/admin/api/ios_devices")["items"][0]
    webhook = api.data("POST", "/admin/api/webhooks", 201, json={
        "url": f"http://127.0.0.1:{free_port()}/hook", "events": ["release.created"]})["webhook"]
    link = api.data("POST", f"/admin/api/products/{product['id']}/links", 201, json={})["link"]
    token = api.data("POST", "/admin/api/tokens", 201, json={"name": "CI", "scope": "upload"})["token"]
    AuditEntry.delete().execute()
    return {"api": api, "product": product["id"], "windows": windows["id"], "release": release["id"],
            "device": device["id"], "webhook": webhook["id"], "link": link["id"], "token": token["id"]}


def json_call(method, path_of, body=None):
    """A case: `method` on the path `path_of(world)` with a JSON body."""
    return lambda world: world["api"].call(method, path_of(world), json=body or {})


def smart_upload(world):
    return world["api"].upload(None, APK, token=ADMIN_TOKEN, path="/admin/api/smart-upload")


def sign_out(world):
    client = world["api"].client
    sign_in(client, ADMIN_TOKEN)
    AuditEntry.delete().execute()
    return client.post("/admin/sign-out", data={"csrf": page_csrf(client)})


# endpoint: (make the call, the action, the target: a key of `world`, "answer:KEY" for the ID of the answer's KEY
# object, or "")
CASES = {
    "admin_catalog.create_product": (json_call("POST", lambda w: "/admin/api/products", {"name": "New", "slug": "new"}),
                                     "product.create", "answer:product"),
    "admin_catalog.update_product": (json_call("PUT", lambda w: f"/admin/api/products/{w['product']}",
                                               {"name": "Renamed"}), "product.update", "product"),
    "admin_catalog.delete_product": (json_call("DELETE", lambda w: f"/admin/api/products/{w['product']}"),
                                     "product.delete", "product"),
    "admin_catalog.create_variant": (json_call("POST", lambda w: f"/admin/api/products/{w['product']}/variants",
                                               {"platform": "linux", "display_name": "Linux", "identifier": "app"}),
                                     "variant.create", "answer:variant"),
    "admin_catalog.update_variant": (json_call("PUT", lambda w: f"/admin/api/variants/{w['windows']}",
                                               {"display_name": "Win"}), "variant.update", "windows"),
    "admin_catalog.delete_variant": (json_call("DELETE", lambda w: f"/admin/api/variants/{w['windows']}"),
                                     "variant.delete", "windows"),
    "admin_catalog.update_release": (json_call("PUT", lambda w: f"/admin/api/releases/{w['release']}",
                                               {"channel": "beta"}), "release.update", "release"),
    "admin_catalog.delete_release": (json_call("DELETE", lambda w: f"/admin/api/releases/{w['release']}"),
                                     "release.delete", "release"),
    "admin_catalog.publish": (json_call("PUT", lambda w: f"/admin/api/apps/{w['windows']}/publish"),
                              "app.publish", "windows"),
    "admin_catalog.unpublish": (json_call("PUT", lambda w: f"/admin/api/apps/{w['product']}/unpublish"),
                                "app.unpublish", "product"),
    "settings_api.put_settings": (json_call("PUT", lambda w: "/admin/api/settings", {"events_retention_days": 30}),
                                  "settings.update", ""),
    "admin_webhooks.create_webhook": (json_call("POST", lambda w: "/admin/api/webhooks", {
        "url": "http://127.0.0.1:9/new", "events": ["release.created"]}), "webhook.create", "answer:webhook"),
    "admin_webhooks.update_webhook": (json_call("PUT", lambda w: f"/admin/api/webhooks/{w['webhook']}",
                                                {"enabled": False}), "webhook.update", "webhook"),
    "admin_webhooks.delete_webhook": (json_call("DELETE", lambda w: f"/admin/api/webhooks/{w['webhook']}"),
                                      "webhook.delete", "webhook"),
    "admin_webhooks.test_webhook": (json_call("POST", lambda w: f"/admin/api/webhooks/{w['webhook']}/test"),
                                    "webhook.test", "webhook"),
    "admin_links.create_link": (json_call("POST", lambda w: f"/admin/api/products/{w['product']}/links"),
                                "link.create", "answer:link"),
    "admin_links.revoke_link": (json_call("DELETE", lambda w: f"/admin/api/links/{w['link']}"), "link.revoke",
                                "link"),
    "admin_tokens.create_token": (json_call("POST", lambda w: "/admin/api/tokens", {"name": "n", "scope": "admin"}),
                                  "token.create", "answer:token"),
    "admin_tokens.revoke_token": (json_call("DELETE", lambda w: f"/admin/api/tokens/{w['token']}"), "token.revoke",
                                  "token"),
    "apple.register_device": (json_call("POST", lambda w: f"/admin/api/devices/{w['device']}/register-apple"),
                              "device.register", "device"),
    "apple.register_devices": (json_call("POST", lambda w: "/admin/api/devices/register-apple"),
                               "devices.register", ""),
    "upload.smart_upload": (smart_upload, "release.smart_upload", "answer:release"),
    "admin_pages.sign_in": (lambda w: sign_in(w["api"].client, ADMIN_TOKEN), "sign_in.ok", ""),
    "admin_pages.sign_out": (sign_out, "sign_out", ""),
}


def admin_write_endpoints(app):
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/admin") and rule.methods & WRITE_METHODS} - NOT_WRITES


def expected_target(target, world, response):
    if target.startswith("answer:"):
        return response.get_json()["data"][target.removeprefix("answer:")]["id"]
    return world.get(target, "")


def test_every_admin_write_route_has_a_case(app):
    assert admin_write_endpoints(app) == set(CASES)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_each_admin_write_adds_one_audit_row(world, endpoint):
    make_call, action, target = CASES[endpoint]
    response = make_call(world)
    assert response.status_code < 400, response.get_data(as_text=True)
    [row] = AuditEntry.select()
    assert (row.action, row.target_id, row.ip) == (action, expected_target(target, world, response), "127.0.0.1")
    assert row.actor == ("admin session" if endpoint == "admin_pages.sign_out" else "configured admin token")


def test_the_actor_names_a_named_token_and_a_session(api, client):
    made = api.data("POST", "/admin/api/tokens", 201, json={"name": "Release bot", "scope": "admin"})
    Api(client, made["secret"]).data("POST", "/admin/api/products", 201, json={"name": "Bot's", "slug": "bots"})
    assert sign_in(client, made["secret"]).status_code == 303
    product_id = AuditEntry.select().where(AuditEntry.action == "product.create").get().target_id
    response = client.put(f"/admin/api/products/{product_id}", json={"name": "Renamed"},
                          headers={"X-CSRF-Token": page_csrf(client)})
    assert response.status_code == 200
    tok = made["token"]["id"]
    actors = [(row.action, row.actor) for row in AuditEntry.select().order_by(AuditEntry.id)]
    assert actors == [("token.create", "configured admin token"), ("product.create", f"token {tok} (Release bot)"),
                      ("sign_in.ok", f"token {tok} (Release bot)"),
                      ("product.update", f"admin session of token {tok} (Release bot)")]


def test_refused_writes_reads_and_parsing_add_no_row(api, client):
    assert_error(api.call("POST", "/admin/api/products", json={}), 400, "BAD_REQUEST")
    assert_error(api.call("DELETE", "/admin/api/products/prd_0000000000000000"), 404, "NOT_FOUND")
    for token, status, code in ((UPLOAD_TOKEN, 403, "FORBIDDEN"), ("", 401, "UNAUTHORIZED")):
        assert_error(api.call("POST", "/admin/api/products", token=token, json={"name": "x", "slug": "x"}), status,
                     code)
    api.data("GET", "/admin/api/products")
    form = {"app_file": (io.BytesIO((require_samples() / APK).read_bytes()), APK)}
    assert api.call("POST", "/admin/api/parse-app", data=form, content_type="multipart/form-data").status_code == 200
    assert AuditEntry.select().count() == 0


@pytest.mark.parametrize("token", ["wrong-token", UPLOAD_TOKEN, ""])
def test_a_failed_sign_in_is_recorded(client, token):
    assert sign_in(client, token).status_code == 401
    [row] = AuditEntry.select()
    assert (row.action, row.actor, row.target_id, row.ip) == ("sign_in.failed", "anonymous", "", "127.0.0.1")


def test_a_locked_out_sign_in_is_recorded_as_failed(client):
    for _ in range(11):
        sign_in(client, "wrong-token")
    assert sign_in(client, ADMIN_TOKEN).status_code == 429
    assert [row.action for row in AuditEntry.select()] == ["sign_in.failed"] * 12


def test_a_busy_database_costs_the_row_not_the_write(api, monkeypatch, caplog):
    def busy(**_fields):
        raise OperationalError("database is locked")

    monkeypatch.setattr(AuditEntry, "create", busy)
    product = api.data("POST", "/admin/api/products", 201, json={"name": "Kept", "slug": "kept"})["product"]
    assert api.data("GET", f"/admin/api/products/{product['id']}")["product"]["name"] == "Kept"
    assert "audit entry product.create left out" in caplog.text


def test_the_audit_list_is_newest_first_with_filters_and_paging(api):
    first = api.create_product(name="One", slug="one")
    second = api.create_product(name="Two", slug="two")
    api.data("PUT", f"/admin/api/products/{first['id']}", json={"name": "Uno"})
    old = AuditEntry.get(AuditEntry.target_id == second["id"])
    old.ts -= timedelta(days=3)
    old.save()
    listed = api.data("GET", "/admin/api/audit")
    assert [(item["action"], item["target_id"]) for item in listed["items"]] == [
        ("product.update", first["id"]), ("product.create", first["id"]), ("product.create", second["id"])]
    assert listed["total"] == 3 and set(listed["items"][0]) == {"id", "ts", "actor", "action", "target_id", "ip"}
    assert api.data("GET", "/admin/api/audit?action=product.create")["total"] == 2
    assert api.data("GET", f"/admin/api/audit?target_id={first['id']}")["total"] == 2
    assert api.data("GET", f"/admin/api/audit?action=product.create&target_id={first['id']}")["total"] == 1
    day = old.ts.date()
    assert [item["target_id"] for item in api.data("GET", f"/admin/api/audit?to={day}")["items"]] == [second["id"]]
    assert api.data("GET", f"/admin/api/audit?from={day + timedelta(days=1)}")["total"] == 2
    page = api.data("GET", "/admin/api/audit?limit=1&offset=1")
    assert page["total"] == 3 and page["items"][0]["action"] == "product.create"


@pytest.mark.parametrize("query", ["from=yesterday", "to=2026-13-01", "limit=0", "offset=-1"])
def test_bad_audit_filters_are_400(api, query):
    assert_error(api.call("GET", f"/admin/api/audit?{query}"), 400, "BAD_REQUEST")


def test_the_audit_list_needs_an_admin(api):
    assert_error(api.call("GET", "/admin/api/audit", token=UPLOAD_TOKEN), 403, "FORBIDDEN")
    assert_error(api.call("GET", "/admin/api/audit", token=""), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("device,language,heading,no_rows", [
    ("iphone", "zh", "审计", "没有符合条件的审计记录。"),
    ("windows", "en", "Audit", "No audit entries match."),
])
def test_the_audit_page_lists_and_filters_the_rows(live_server, open_as, api, device, language, heading, no_rows):
    product = api.create_product(name="Audited", slug="audited")
    view = open_as(device)
    page = view.page
    page.goto(f"{live_server}/admin/language/{language}")
    page.locator("#token").fill("wrong-token")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    page.locator("#token").fill(ADMIN_TOKEN)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/admin/products")
    page.locator("nav a[href='/admin/audit']").click()
    page.wait_for_url(f"{live_server}/admin/audit")
    assert page.locator("h1").inner_text() == heading
    rows = page.locator("table.audit tbody tr")
    assert [rows.nth(index).locator("td").nth(2).inner_text() for index in range(rows.count())] == [
        "sign_in.ok", "sign_in.failed", "product.create"]
    assert rows.nth(2).locator("td").nth(3).inner_text() == product["id"]
    assert rows.nth(0).locator("td").nth(1).inner_text() == "configured admin token"
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    for control in page.locator("main input:visible").all():
        assert control.evaluate("el => el.labels.length"), control.evaluate("el => el.outerHTML")

    page.locator("input[name=action]").fill("sign_in.failed")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    assert rows.count() == 1 and rows.first.locator("td").nth(4).inner_text() == "127.0.0.1"
    page.locator("input[name=target_id]").fill("prd_0000000000000000")
    with page.expect_navigation():
        page.locator("form.filters button[type=submit]").click()
    assert page.get_by_text(no_rows).is_visible()
    assert [error for error in view.errors if "status of 401" not in error] == []  # the failed sign-in's page
