"""Webhooks through the admin API: their fields, the secret never shown, the private-address guard at creation,
and the outbox: one delivery per webhook that wants an event, written in the transaction of the change it reports
(an upload, a release delete, a device bound by UDID binding or registered with Apple) and rolled back with it."""
import pytest
from peewee import OperationalError

from fenfa_lib import webhooks
from fenfa_lib.models import Release, Webhook, WebhookDelivery

from apple_fake import ISSUER_ID, KEY_ID, running_fake_apple
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api, assert_error
from iphone import register
from shop import EXE

HOOK_URL = "https://hooks.example.com/fenfa"
UDID = "00008030-001A2B3C4D5E6F70"
MISSING = object()


@pytest.fixture
def product(api):
    return api.create_product(name="Demo App", slug="demo")


@pytest.fixture
def windows(api, product):
    return api.create_variant(product["id"], platform="windows", display_name="Windows", identifier="setup")


def create_webhook(api, status=201, **fields):
    body = {"url": HOOK_URL, "events": ["release.created"], **fields}
    return api.data("POST", "/admin/api/webhooks", status, json=body)["webhook"]


def deliveries(webhook_id=None):
    query = WebhookDelivery.select().order_by(WebhookDelivery.created_at)
    if webhook_id:
        query = query.where(WebhookDelivery.webhook == webhook_id)
    return list(query)


def test_a_webhook_is_created_listed_changed_and_deleted_and_its_secret_never_shown(api, product):
    created = create_webhook(api, kind="slack", events=["release.created", "release.deleted", "release.created"],
                             product_id=product["id"], secret="s3cret-value")
    assert created["id"].startswith("whk_")
    assert created == {**created, "url": HOOK_URL, "kind": "slack", "events": ["release.created", "release.deleted"],
                       "product_id": product["id"], "enabled": True, "has_secret": True}
    listed = api.data("GET", "/admin/api/webhooks")
    assert listed["total"] == 1 and listed["items"] == [created]
    assert api.data("GET", f"/admin/api/webhooks/{created['id']}")["webhook"] == created

    changed = api.data("PUT", f"/admin/api/webhooks/{created['id']}",
                       json={"enabled": False, "secret": None, "product_id": None})["webhook"]
    assert changed == {**created, "enabled": False, "has_secret": False, "product_id": None,
                       "updated_at": changed["updated_at"]}
    assert Webhook.get_by_id(created["id"]).secret == ""
    for path in ("/admin/api/webhooks", f"/admin/api/webhooks/{created['id']}"):
        assert "s3cret-value" not in api.call("GET", path).get_data(as_text=True)

    assert api.data("DELETE", f"/admin/api/webhooks/{created['id']}") == {"deleted": created["id"]}
    assert_error(api.call("GET", f"/admin/api/webhooks/{created['id']}"), 404, "NOT_FOUND", "webhook")


def test_defaults_are_a_generic_enabled_webhook_for_every_product(api):
    webhook = create_webhook(api)
    assert (webhook["kind"], webhook["product_id"], webhook["enabled"], webhook["has_secret"]) == (
        "generic", None, True, False)


@pytest.mark.parametrize("changes,message", [
    ({"url": MISSING}, "url is required"),
    ({"url": "ftp://hooks.example.com/x"}, "http:// or https://"),
    ({"url": "https://"}, "http:// or https://"),
    ({"url": "hooks.example.com/x"}, "http:// or https://"),
    ({"url": "https://hooks.example.com/a b"}, "one URL"),
    ({"url": "https://hooks.example.com:99999/"}, "not a valid URL"),
    ({"url": "https://user:pass@hooks.example.com/"}, "user name"),
    ({"url": "https://hooks.example.com/" + "x" * 2048}, "at most"),
    ({"url": 42}, "url must be a string"),
    ({"events": MISSING}, "events is required"),
    ({"events": []}, "non-empty list"),
    ({"events": "release.created"}, "non-empty list"),
    ({"events": ["release.published"]}, "release.published is not one of"),
    ({"kind": "teams"}, "kind must be one of"),
    ({"product_id": "prd_0000000000000000"}, "product prd_0000000000000000 not found"),
    ({"secret": "x" * 300}, "secret must be at most"),
    ({"enabled": "yes"}, "enabled must be true or false"),
    ({"colour": "red"}, "unknown field: colour"),
])
def test_bad_webhooks_are_400_naming_the_field_and_leave_nothing(api, changes, message):
    body = {name: value for name, value in {"url": HOOK_URL, "events": ["release.created"], **changes}.items()
            if value is not MISSING}
    assert_error(api.call("POST", "/admin/api/webhooks", json=body), 400, "BAD_REQUEST", message)
    assert Webhook.select().count() == 0


def test_a_change_is_checked_as_a_creation_is(api):
    webhook = create_webhook(api)
    for body, message in (({"url": "gopher://x"}, "http:// or https://"), ({"events": []}, "non-empty list"),
                          ({"kind": "irc"}, "kind must be one of")):
        assert_error(api.call("PUT", f"/admin/api/webhooks/{webhook['id']}", json=body), 400, "BAD_REQUEST", message)
    assert api.data("GET", f"/admin/api/webhooks/{webhook['id']}")["webhook"] == webhook


PRIVATE_URLS = ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.7/",
                "http://172.16.0.1/", "http://169.254.169.254/latest/meta-data", "http://[::1]/hook",
                "http://[::ffff:127.0.0.1]/hook", "http://[fe80::1]/hook", "http://0.0.0.0/"]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_addresses_are_refused_unless_the_configuration_allows_them(make_app, url):
    api = Api(make_app().test_client(), ADMIN_TOKEN)
    assert_error(api.call("POST", "/admin/api/webhooks", json={"url": url, "events": ["release.created"]}), 400,
                 "BAD_REQUEST", "webhook_allow_private")
    allowing = Api(make_app(webhook_allow_private=True).test_client(), ADMIN_TOKEN)
    assert create_webhook(allowing, url=url)["url"] == url


@pytest.mark.parametrize("method,path", [("GET", "/admin/api/webhooks"), ("POST", "/admin/api/webhooks"),
                                         ("GET", "/admin/api/webhooks/whk_0000000000000000/deliveries"),
                                         ("POST", "/admin/api/webhooks/whk_0000000000000000/test")])
def test_webhook_routes_need_an_admin_token(client, method, path):
    assert_error(Api(client, UPLOAD_TOKEN).call(method, path, json={}), 403, "FORBIDDEN")
    assert_error(Api(client, "").call(method, path, json={}), 401, "UNAUTHORIZED")


def test_unknown_webhooks_are_404(api):
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/deliveries")):
        assert_error(api.call(method, f"/admin/api/webhooks/whk_0000000000000000{path}", json={}), 404, "NOT_FOUND",
                     "webhook whk_0000000000000000 not found")


def test_an_upload_writes_one_delivery_per_webhook_that_wants_it(api, product, windows):
    other = api.create_product(name="Other", slug="other")
    everything = create_webhook(api)
    mine = create_webhook(api, product_id=product["id"], kind="discord")
    others = create_webhook(api, product_id=other["id"])
    deletes_only = create_webhook(api, events=["release.deleted"])
    disabled = create_webhook(api, enabled=False)

    release = api.upload_release(windows["id"], "setup.exe", EXE, version="1.2.0", build="41", channel="beta",
                                 changelog="Fixes login")
    assert {delivery.webhook_id for delivery in deliveries()} == {everything["id"], mine["id"]}
    assert not deliveries(others["id"]) + deliveries(deletes_only["id"]) + deliveries(disabled["id"])
    delivery = deliveries(everything["id"])[0]
    assert (delivery.event, delivery.state, delivery.attempt) == ("release.created", "pending", 0)
    payload = delivery.payload
    assert payload["event"] == "release.created" and payload["id"] == delivery.id
    assert payload["created_at"].endswith("Z")
    assert payload["product"] == {"id": product["id"], "name": "Demo App", "slug": "demo"}
    assert payload["variant"]["id"] == windows["id"] and payload["variant"]["platform"] == "windows"
    assert payload["release"] == {**payload["release"], "id": release["id"], "version": "1.2.0", "build": "41",
                                  "channel": "beta", "changelog": "Fixes login", "sha256": release["sha256"]}
    assert payload["urls"] == {"page": f"http://localhost/products/demo?r={release['id']}",
                               "download": f"http://localhost/d/{release['id']}"}


def test_the_urls_follow_the_primary_domain(api, windows):
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    create_webhook(api)
    release = api.upload_release(windows["id"], "setup.exe", EXE)
    assert deliveries()[0].payload["urls"]["download"] == f"https://apps.example.com/d/{release['id']}"


def test_a_release_delete_reports_the_release_and_a_product_delete_its_webhooks_go(api, product, windows):
    everything = create_webhook(api, events=["release.deleted"])
    mine = create_webhook(api, events=["release.deleted"], product_id=product["id"])
    first = api.upload_release(windows["id"], "setup.exe", EXE, version="1.0")
    api.upload_release(windows["id"], "setup.exe", EXE + b"2", version="1.1")
    api.data("DELETE", f"/admin/api/releases/{first['id']}")
    reported = deliveries(everything["id"])
    assert [(delivery.event, delivery.payload["release"]["id"]) for delivery in reported] == [
        ("release.deleted", first["id"])]
    assert reported[0].payload["urls"] == {"page": "http://localhost/products/demo"}
    assert len(deliveries(mine["id"])) == 1

    api.data("DELETE", f"/admin/api/products/{product['id']}")
    assert len(deliveries(everything["id"])) == 1  # the product's other release is not reported one by one
    assert Webhook.get_or_none(Webhook.id == mine["id"]) is None


def test_a_device_bound_by_udid_binding_is_reported_once(api, product):
    ios = api.create_variant(product["id"], platform="ios", display_name="iPhone", identifier="com.example.ios")
    webhook = create_webhook(api, events=["device.bound"])
    assert register(api.client, ios["id"], UDID).status_code == 301
    assert register(api.client, ios["id"], UDID).status_code == 301  # the same device again: no new binding
    reported = deliveries(webhook["id"])
    assert len(reported) == 1
    payload = reported[0].payload
    assert payload["event"] == "device.bound" and payload["variant"]["id"] == ios["id"]
    assert payload["device"] == {**payload["device"], "udid": UDID, "device_name": "Anna's iPhone"}
    assert payload["urls"] == {"page": "http://localhost/products/demo"}


def test_a_device_registered_with_apple_is_reported_to_the_webhooks_of_its_products(make_app, product):
    with running_fake_apple() as fake:
        api = Api(make_app(apple_api_url=fake.base_url).test_client(), ADMIN_TOKEN)
        ios = api.create_variant(product["id"], platform="ios", display_name="iPhone", identifier="com.example.ios")
        other = api.create_product(name="Other", slug="other")
        everything = create_webhook(api, events=["device.registered"])
        mine = create_webhook(api, events=["device.registered"], product_id=product["id"])
        others = create_webhook(api, events=["device.registered"], product_id=other["id"])
        assert register(api.client, ios["id"], UDID).status_code == 301
        api.data("PUT", "/admin/api/settings", json={"apple_key_id": KEY_ID, "apple_issuer_id": ISSUER_ID,
                                                      "apple_private_key": fake.private_pem})
        device = api.data("GET", "/admin/api/ios_devices")["items"][0]
        api.data("POST", f"/admin/api/devices/{device['id']}/register-apple")
        api.data("POST", f"/admin/api/devices/{device['id']}/register-apple")  # already registered: not again
    assert len(deliveries(everything["id"])) == len(deliveries(mine["id"])) == 1
    assert deliveries(others["id"]) == []
    payload = deliveries(mine["id"])[0].payload
    assert payload["device"]["apple_registered"] is True and payload["device"]["apple_device_id"]


def failing_after(real):
    """`real` enqueue, then a database fault: the change and its outbox rows must go together."""

    def enqueue(*args, **kwargs):
        real(*args, **kwargs)
        assert WebhookDelivery.select().count() == 1  # written, inside the transaction
        raise OperationalError("disk I/O error")

    return enqueue


def test_the_outbox_rolls_back_with_an_upload_that_fails(api, windows, monkeypatch, data_dir):
    create_webhook(api)
    monkeypatch.setattr(webhooks, "enqueue", failing_after(webhooks.enqueue))
    response = api.upload(windows["id"], "setup.exe", EXE)
    assert response.status_code == 503, response.get_data(as_text=True)
    assert WebhookDelivery.select().count() == 0 and Release.select().count() == 0


def test_the_outbox_rolls_back_with_a_delete_that_fails(api, windows, monkeypatch):
    create_webhook(api, events=["release.deleted"])
    release = api.upload_release(windows["id"], "setup.exe", EXE)
    monkeypatch.setattr(webhooks, "enqueue", failing_after(webhooks.enqueue))
    assert api.call("DELETE", f"/admin/api/releases/{release['id']}").status_code == 503
    assert WebhookDelivery.select().count() == 0 and Release.get_or_none(Release.id == release["id"])
