"""Apple Developer API through the admin API, against a stand-in App Store Connect on loopback: status,
the account's devices, registering bound devices one by one and in a batch, and Apple's refusals."""
import csv
import io

import pytest

from fenfa_lib import apple

from apple_fake import ISSUER_ID, KEY_ID, running_fake_apple
from helpers import ADMIN_TOKEN, Api, assert_error
from iphone import register

UDIDS = ["00008030-001A2B3C4D5E6F70", "00008101-000A1B2C3D4E5F60", "0123456789abcdef0123456789abcdef01234567"]


@pytest.fixture
def fake():
    with running_fake_apple() as server:
        yield server


@pytest.fixture
def apple_api(make_app, fake):
    """An admin API client of a Fenfa whose apple_api_url is the fake."""
    return Api(make_app(apple_api_url=fake.base_url).test_client(), ADMIN_TOKEN)


def configure(api, fake, private_key=None):
    api.data("PUT", "/admin/api/settings", json={"apple_key_id": KEY_ID, "apple_issuer_id": ISSUER_ID,
                                                  "apple_private_key": private_key or fake.private_pem,
                                                  "apple_team_id": "TEAM123456"})


def bind_devices(api, count=1, **attributes):
    """`count` devices bound through UDID binding to a new iOS variant; their device rows as the API lists them."""
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="ios", display_name="iPhone", identifier="com.example.ios")
    for udid in UDIDS[:count]:
        assert register(api.client, variant["id"], udid, **attributes).status_code == 301
    return sorted(api.data("GET", "/admin/api/ios_devices")["items"], key=lambda device: UDIDS.index(device["udid"]))


def test_status_without_credentials_names_what_is_missing(apple_api, fake):
    status = apple_api.data("GET", "/admin/api/apple/status")
    assert status["configured"] is False and status["connected"] is False
    assert "apple_key_id, apple_issuer_id, apple_private_key" in status["message"]
    assert fake.requests == []


def test_status_connects_with_a_token_apple_accepts_and_reuses_it(apple_api, fake):
    configure(apple_api, fake)
    for _ in range(2):
        assert apple_api.data("GET", "/admin/api/apple/status") == {
            "configured": True, "connected": True, "message": "connected to App Store Connect"}
    assert fake.requests[0] == ("GET", "/v1/devices?limit=1")
    assert len(fake.tokens) == 2 and fake.tokens[0] == fake.tokens[1]
    assert apple_api.data("GET", "/admin/api/settings")["apple_configured"] is True


def test_a_token_is_replaced_a_minute_before_it_expires(apple_api, fake, monkeypatch):
    configure(apple_api, fake)
    fake.leeway = 30 * 60
    apple_api.data("GET", "/admin/api/apple/status")
    started = apple.now()
    monkeypatch.setattr(apple, "now", lambda: started + 18 * 60)
    apple_api.data("GET", "/admin/api/apple/status")
    monkeypatch.setattr(apple, "now", lambda: started + 19 * 60 + 1)
    assert apple_api.data("GET", "/admin/api/apple/status")["connected"] is True
    assert fake.tokens[0] == fake.tokens[1] != fake.tokens[2]


def test_status_shows_apple_refusing_a_key(apple_api, fake):
    with running_fake_apple() as other_account:
        configure(apple_api, fake, private_key=other_account.private_pem)  # a key Apple has not got
    status = apple_api.data("GET", "/admin/api/apple/status")
    assert status["configured"] is True and status["connected"] is False
    assert "Authentication credentials are missing or invalid" in status["message"]


def test_the_accounts_devices_are_listed_across_every_page(apple_api, fake):
    configure(apple_api, fake)
    for number in range(7):
        fake.add_device(f"{number:040x}", name=f"Phone {number}")
    listing = apple_api.data("GET", "/admin/api/apple/devices")
    assert listing["total"] == 7 and [item["name"] for item in listing["items"]] == [f"Phone {n}" for n in range(7)]
    assert listing["items"][0] == {"apple_device_id": "APPLE0001", "udid": "0" * 40, "name": "Phone 0",
                                   "platform": "IOS", "model": "iPhone 15", "status": "ENABLED",
                                   "added_at": "2026-11-30T10:00:00.000+00:00"}
    assert [path for _, path in fake.requests] == ["/v1/devices?limit=200", "/v1/devices?cursor=3&limit=3",
                                                   "/v1/devices?cursor=6&limit=3"]


def test_a_bound_device_is_registered_and_the_lists_and_export_show_it(apple_api, fake):
    configure(apple_api, fake)
    [device] = bind_devices(apple_api)
    result = apple_api.data("POST", f"/admin/api/devices/{device['id']}/register-apple")
    assert result == {"device_id": device["id"], "udid": UDIDS[0], "ok": True, "apple_device_id": "APPLE0001",
                      "error": None, "apple_registered": True}
    assert fake.devices[0]["attributes"]["name"] == "Anna's iPhone"
    [listed] = apple_api.data("GET", "/admin/api/ios_devices")["items"]
    assert (listed["apple_registered"], listed["apple_device_id"]) == (True, "APPLE0001")
    rows = list(csv.DictReader(io.StringIO(apple_api.call("GET", "/admin/exports/ios_devices.csv").get_data(
        as_text=True))))
    assert (rows[0]["apple_registered"], rows[0]["apple_device_id"]) == ("true", "APPLE0001")


def test_a_device_without_a_name_is_named_by_its_model_and_udid(apple_api, fake):
    configure(apple_api, fake)
    [device] = bind_devices(apple_api, DEVICE_NAME=None)
    apple_api.data("POST", f"/admin/api/devices/{device['id']}/register-apple")
    assert fake.devices[0]["attributes"]["name"] == "iPhone14,2 5E6F70"


def test_a_device_apple_already_has_counts_as_registered(apple_api, fake):
    configure(apple_api, fake)
    fake.add_device(UDIDS[0])
    [device] = bind_devices(apple_api)
    result = apple_api.data("POST", f"/admin/api/devices/{device['id']}/register-apple")
    assert (result["ok"], result["apple_device_id"]) == (True, "APPLE0001")
    assert len(fake.devices) == 1
    assert [method for method, _ in fake.requests] == ["POST", "GET"]  # 409, then the look-up by UDID


@pytest.mark.parametrize("status,code,detail", [
    (403, "FORBIDDEN_ERROR", "This request is forbidden for security reasons"),
    (500, "UNEXPECTED_ERROR", "An unexpected error occurred on the server side."),
    (409, "ENTITY_ERROR.ATTRIBUTE.INVALID", "An attribute value is not acceptable for the current resource."),
])
def test_apples_refusals_are_502_with_apples_detail(apple_api, fake, status, code, detail):
    configure(apple_api, fake)
    [device] = bind_devices(apple_api)
    fake.fail_next(status, code, detail)
    if status == 409:  # a conflict that is not a duplicate: the look-up by UDID finds nothing either
        fake.fail_next(404, "NOT_FOUND", "no device")
    response = apple_api.call("POST", f"/admin/api/devices/{device['id']}/register-apple")
    assert_error(response, 502, "BAD_GATEWAY", detail)
    assert apple_api.data("GET", "/admin/api/ios_devices")["items"][0]["apple_registered"] is False


def test_an_apple_that_does_not_answer_in_time_is_a_502(apple_api, fake, monkeypatch):
    monkeypatch.setattr(apple, "TIMEOUT_SECONDS", 0.5)
    configure(apple_api, fake)
    [device] = bind_devices(apple_api)
    fake.fail_next("timeout")
    assert_error(apple_api.call("POST", f"/admin/api/devices/{device['id']}/register-apple"), 502, "BAD_GATEWAY",
                 "cannot be reached")
    fake.fail_next("timeout")
    status = apple_api.data("GET", "/admin/api/apple/status")
    assert status["connected"] is False and "cannot be reached" in status["message"]
    fake.fail_next("timeout")
    assert_error(apple_api.call("GET", "/admin/api/apple/devices"), 502, "BAD_GATEWAY", "cannot be reached")


def test_registering_without_credentials_is_a_400_that_names_them(apple_api, fake):
    [device] = bind_devices(apple_api)
    assert_error(apple_api.call("POST", f"/admin/api/devices/{device['id']}/register-apple"), 400, "BAD_REQUEST",
                 "set apple_key_id, apple_issuer_id, apple_private_key")
    assert_error(apple_api.call("POST", "/admin/api/devices/register-apple"), 400, "BAD_REQUEST", "apple_key_id")
    assert_error(apple_api.call("GET", "/admin/api/apple/devices"), 400, "BAD_REQUEST", "apple_private_key")


def test_an_unknown_device_is_404(apple_api, fake):
    configure(apple_api, fake)
    assert_error(apple_api.call("POST", "/admin/api/devices/dev_0000000000000000/register-apple"), 404, "NOT_FOUND",
                 "device dev_0000000000000000 not found")


def test_an_empty_batch_registers_every_unregistered_device_each_on_its_own(apple_api, fake):
    configure(apple_api, fake)
    devices = bind_devices(apple_api, count=3)
    fake.add_device(UDIDS[1])  # Apple has the second already
    apple_api.data("POST", f"/admin/api/devices/{devices[0]['id']}/register-apple")
    fake.fail_next(500, "UNEXPECTED_ERROR", "Apple had a bad day")  # for the second device's POST
    batch = apple_api.data("POST", "/admin/api/devices/register-apple")
    assert (batch["success_count"], batch["fail_count"]) == (1, 1)
    assert [(result["device_id"], result["ok"]) for result in batch["results"]] == [
        (devices[1]["id"], False), (devices[2]["id"], True)]
    assert "Apple had a bad day" in batch["results"][0]["error"] and batch["results"][0]["udid"] == UDIDS[1]
    retry = apple_api.data("POST", "/admin/api/devices/register-apple", json={})
    assert (retry["success_count"], retry["fail_count"]) == (1, 0)
    assert retry["results"][0]["apple_device_id"] == "APPLE0001"  # the ID Apple gave the device it already had
    assert apple_api.data("POST", "/admin/api/devices/register-apple")["results"] == []


def test_a_batch_names_its_devices(apple_api, fake):
    configure(apple_api, fake)
    devices = bind_devices(apple_api, count=2)
    batch = apple_api.data("POST", "/admin/api/devices/register-apple",
                           json={"device_ids": [devices[1]["id"], "dev_ffffffffffffffff", devices[1]["id"]]})
    assert batch["success_count"] == 1 and batch["fail_count"] == 1
    assert batch["results"][1] == {"device_id": "dev_ffffffffffffffff", "udid": None, "ok": False,
                                   "apple_device_id": None, "error": "device dev_ffffffffffffffff not found"}
    assert [device["apple_registered"] for device in apple_api.data("GET", "/admin/api/ios_devices")["items"]
            if device["id"] == devices[0]["id"]] == [False]


@pytest.mark.parametrize("body,message", [
    ({"device_ids": "dev_x"}, "device_ids must be a list"),
    ({"device_ids": [1, 2]}, "device_ids must be a list"),
    ({"device_ids": ["dev_x"] * 1001}, "at most 1000"),
    ({"devices": []}, "unknown field: devices"),
])
def test_bad_batches_are_400(apple_api, fake, body, message):
    configure(apple_api, fake)
    assert_error(apple_api.call("POST", "/admin/api/devices/register-apple", json=body), 400, "BAD_REQUEST", message)
    assert fake.requests == []


@pytest.mark.parametrize("method,path", [
    ("GET", "/admin/api/apple/status"), ("GET", "/admin/api/apple/devices"),
    ("POST", "/admin/api/devices/register-apple"), ("POST", "/admin/api/devices/dev_x/register-apple"),
])
def test_apple_routes_need_an_admin_token(apple_api, method, path):
    assert_error(apple_api.call(method, path, token="-"), 401, "UNAUTHORIZED")
