"""POST /events from the product page's script (checks and a per-address rate limit), and the admin events list."""
import json
import threading
from datetime import datetime

import pytest

from fenfa_lib.address_limits import Budget
from fenfa_lib.models import AddressCount, Event, db
from fenfa_lib.web.budget import BUDGETS, BUDGETS_PER_MINUTE

from helpers import UPLOAD_TOKEN, assert_error


def post_event(client, body, address="127.0.0.1"):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/events", data=raw, content_type="application/json", headers={"User-Agent": "tester/1.0"},
                       environ_base={"REMOTE_ADDR": address})


def test_click_and_visit_events_are_recorded(api, client, shop):
    release = shop["releases"]["android"]
    variant = shop["variants"]["android"]
    response = post_event(client, {"type": "click", "release_id": release["id"], "extra": {"button": "main"}})
    assert response.status_code == 201
    event = Event.get_by_id(response.json["data"]["id"])
    assert (event.type, event.product_id, event.variant_id, event.release_id) == (
        "click", shop["product"]["id"], variant["id"], release["id"])
    assert event.extra == {"button": "main"}
    response = post_event(client, {"type": "visit", "variant_id": variant["id"]})
    assert response.status_code == 201
    assert (Event.get_by_id(response.json["data"]["id"]).release_id) == ""
    both = {"type": "click", "variant_id": variant["id"], "release_id": release["id"]}
    assert post_event(client, both).status_code == 201


def filler(size):
    """A click body of exactly `size` bytes once {release} is a release ID; JSON allows the trailing spaces."""
    body = json.dumps({"type": "click", "release_id": "{release}"})
    return body + " " * (size - len(body.replace("{release}", "rel_0123456789abcdef")))


ACCEPTED_EXTRA = {"button": "main", "k" * 32: "x" * 200, "ratio": 1.5, "count": -3, "primary": True,
                  "note": None, "a.b-c_D9": 0, "empty": ""}


@pytest.mark.parametrize("body,status,message", [
    ({"type": "download", "release_id": "{release}"}, 400, "type must be click or visit"),
    ({"release_id": "{release}"}, 400, "type is required"),
    ({"type": 5, "release_id": "{release}"}, 400, "type must be a string"),
    ({"type": "click"}, 400, "release_id or variant_id is required"),
    ({"type": "click", "release_id": "rel_0000000000000000"}, 400, "does not exist"),
    ({"type": "click", "variant_id": "var_0000000000000000"}, 400, "does not exist"),
    ({"type": "click", "release_id": 7}, 400, "release_id must be a string"),
    ({"type": "click", "release_id": "{release}", "variant_id": "{other_variant}"}, 400, "does not match"),
    ({"type": "click", "release_id": "{release}", "extra": "text"}, 400, "extra must be a JSON object"),
    ({"type": "click", "release_id": "{release}", "admin": True}, 400, "unknown field: admin"),
    ({"type": "click", "release_id": "{release}", "extra": [1]}, 400, "extra must be a JSON object"),
    ({"type": "click", "release_id": "{release}", "extra": {**ACCEPTED_EXTRA, "ninth": 1}}, 400,
     "extra must have at most 8 keys"),
    ({"type": "click", "release_id": "{release}", "extra": {"k" * 33: 1}}, 400, "extra keys must be 1 to 32"),
    ({"type": "click", "release_id": "{release}", "extra": {"": 1}}, 400, "extra keys must be 1 to 32"),
    ({"type": "click", "release_id": "{release}", "extra": {"two words": 1}}, 400, "extra keys must be 1 to 32"),
    ({"type": "click", "release_id": "{release}", "extra": {"caf\u00e9": 1}}, 400, "extra keys must be 1 to 32"),
    ({"type": "click", "release_id": "{release}", "extra": {"pad": "x" * 201}}, 400,
     "extra.pad must be at most 200 characters"),
    ({"type": "click", "release_id": "{release}", "extra": {"nested": {"a": 1}}}, 400,
     "extra.nested must be a string, number, boolean or null"),
    ({"type": "click", "release_id": "{release}", "extra": {"list": ["a"]}}, 400,
     "extra.list must be a string, number, boolean or null"),
    ('{"type": "click", "release_id": "{release}", "extra": {"n": 1e400}}', 400, "extra.n must be a finite number"),
    ("not json", 400, "valid JSON"),
    ('["click"]', 400, "JSON object"),
    ("", 400, "type is required"),
    (filler(4097), 413, "at most 4096 bytes"),
    ("x" * 100_000, 413, "at most 4096 bytes"),
])
def test_event_validation(client, shop, body, status, message):
    ids = {"release": shop["releases"]["android"]["id"], "other_variant": shop["variants"]["ios"]["id"]}
    raw = body if isinstance(body, str) else json.dumps(body)
    for name, value in ids.items():
        raw = raw.replace("{" + name + "}", value)
    code = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE"}[status]
    assert_error(post_event(client, raw), status, code, message)
    assert Event.select().where(Event.type == "click").count() == 0


def test_event_body_limit_is_4_kib(client, shop):
    raw = filler(4096).replace("{release}", shop["releases"]["android"]["id"])
    assert len(raw) == 4096
    assert post_event(client, raw).status_code == 201


def test_events_for_unpublished_builds_are_refused(api, client, shop):
    api.data("PUT", f"/admin/api/apps/{shop['variants']['android']['id']}/unpublish")
    response = post_event(client, {"type": "click", "release_id": shop["releases"]["android"]["id"]})
    assert_error(response, 400, "BAD_REQUEST", "does not exist")


def test_a_flat_extra_of_short_scalars_is_kept(client, shop):
    response = post_event(client, {"type": "click", "release_id": shop["releases"]["android"]["id"],
                                   "extra": ACCEPTED_EXTRA})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert Event.get_by_id(response.json["data"]["id"]).extra == ACCEPTED_EXTRA


def click(client, shop, address="127.0.0.1"):
    return post_event(client, {"type": "click", "release_id": shop["releases"]["android"]["id"]}, address)


def test_each_address_may_post_a_minutes_worth_of_events(client, shop):
    for _ in range(BUDGETS_PER_MINUTE["events"]):
        assert click(client, shop).status_code == 201
    response = click(client, shop)
    assert_error(response, 429, "TOO_MANY_REQUESTS", "too many events from this address")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert_error(post_event(client, "not json"), 429, "TOO_MANY_REQUESTS")
    assert click(client, shop, address="192.0.2.7").status_code == 201
    assert Event.select().where(Event.type == "click").count() == BUDGETS_PER_MINUTE["events"] + 1


class FakeClock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_the_limit_lifts_when_its_window_ends(app, client, shop):
    clock = FakeClock()
    app.extensions[BUDGETS]["events"] = Budget("events", 2, window=60, clock=clock)
    assert [click(client, shop).status_code for _ in range(2)] == [201, 201]
    clock.now += 59.2
    response = click(client, shop)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    clock.now += 0.8
    assert click(client, shop).status_code == 201


def test_a_budget_counts_each_address_and_kind_on_its_own(app):
    clock = FakeClock(1000.0)
    budget, other_kind = Budget("test", 3, window=10, clock=clock), Budget("other", 3, window=10, clock=clock)
    assert [budget.hit("a") for _ in range(3)] == [0, 0, 0]
    clock.now += 4
    assert budget.hit("a") == 6
    assert [budget.hit("b") for _ in range(3)] == [0, 0, 0]
    assert budget.hit("b") == 10  # b's window began with its first hit
    assert other_kind.hit("a") == 0
    clock.now += 6
    assert budget.hit("a") == 0
    assert budget.hit("b") == 4


def test_a_budget_keeps_no_rows_of_windows_that_have_passed(app):
    clock = FakeClock(1000.0)
    budget = Budget("test", 1, window=10, clock=clock)
    for address in range(100):
        budget.hit(f"198.51.100.{address}")
    clock.now += 10
    assert budget.hit("198.51.100.1") == 0
    assert AddressCount.select().where(AddressCount.kind == "test").count() == 1


def test_an_address_over_its_budget_is_refused_without_a_database_write(app):
    clock = FakeClock(1000.0)
    budget = Budget("test", 2, window=10, clock=clock)
    assert [budget.hit("a") for _ in range(3)] == [0, 0, 10]
    clock.now += 5
    assert budget.hit("a") == 5
    assert AddressCount.get(AddressCount.kind == "test", AddressCount.address == "a").count == 3
    clock.now += 5
    assert budget.hit("a") == 0


def test_a_budget_is_exact_under_concurrent_hits(app):
    budget = Budget("test", 500, window=3600)
    allowed = []

    def hammer():
        with db.connection_context():
            allowed.append(sum(1 for _ in range(200) if budget.hit("203.0.113.1") == 0))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500


@pytest.fixture
def events(client, shop):
    """Five events on known days; returns their IDs oldest first."""
    android, ios = shop["releases"]["android"], shop["releases"]["ios"]
    bodies = [("visit", {"variant_id": shop["variants"]["android"]["id"]}), ("click", {"release_id": android["id"]}),
              ("click", {"release_id": ios["id"]}), ("click", {"release_id": android["id"]}),
              ("visit", {"variant_id": shop["variants"]["ios"]["id"]})]
    days = ["2026-01-01T08:00:00", "2026-01-02T09:30:00", "2026-01-02T23:59:30", "2026-01-03T00:00:00",
            "2026-01-05T12:00:00"]
    ids = []
    for (event_type, target), day in zip(bodies, days):
        event_id = post_event(client, {"type": event_type, **target}).json["data"]["id"]
        Event.update(ts=datetime.fromisoformat(day)).where(Event.id == event_id).execute()
        ids.append(event_id)
    Event.delete().where(Event.type == "upload").execute()
    return ids


@pytest.mark.parametrize("query,picked", [
    ("", [4, 3, 2, 1, 0]),
    ("type=click", [3, 2, 1]),
    ("type=click&release_id={android}", [3, 1]),
    ("variant_id={ios_variant}", [4, 2]),
    ("product_id={product}", [4, 3, 2, 1, 0]),
    ("product_id=prd_0000000000000000", []),
    ("from=2026-01-02", [4, 3, 2, 1]),
    ("to=2026-01-02", [2, 1, 0]),
    ("from=2026-01-02&to=2026-01-02", [2, 1]),
    ("from=2026-01-02T10:00:00Z&to=2026-01-03T00:00:00Z", [3, 2]),
    ("from=2026-01-02T11:00:00%2B02:00", [4, 3, 2, 1]),
    ("limit=2", [4, 3]),
    ("limit=2&offset=2", [2, 1]),
    ("type=click&limit=1&offset=1", [2]),
])
def test_admin_events_filters_and_pages(api, shop, events, query, picked):
    ids = {"android": shop["releases"]["android"]["id"], "ios_variant": shop["variants"]["ios"]["id"],
           "product": shop["product"]["id"]}
    data = api.data("GET", "/admin/api/events?" + query.format(**ids))
    assert [item["id"] for item in data["items"]] == [events[index] for index in picked]
    if "limit" not in query:
        assert data["total"] == len(picked)


def test_admin_event_items_have_every_column(api, shop, events):
    data = api.data("GET", "/admin/api/events?type=click&limit=1")
    assert data["total"] == 3
    assert data["items"] == [{
        "id": events[3], "ts": "2026-01-03T00:00:00Z", "type": "click", "product_id": shop["product"]["id"],
        "variant_id": shop["variants"]["android"]["id"], "release_id": shop["releases"]["android"]["id"],
        "ip": "127.0.0.1", "user_agent": "tester/1.0", "extra": {},
    }]


@pytest.mark.parametrize("query,message", [
    ("from=yesterday", "from must be an ISO 8601 date or datetime"),
    ("to=2026-13-01", "to must be an ISO 8601 date or datetime"),
    ("type=install", "type must be one of"),
    ("limit=0", "limit must be between"),
    ("offset=-1", "offset must be between"),
])
def test_admin_events_bad_filters(api, query, message):
    assert_error(api.call("GET", "/admin/api/events?" + query), 400, "BAD_REQUEST", message)


def test_admin_events_need_an_admin_token(api):
    assert_error(api.call("GET", "/admin/api/events", token=""), 401, "UNAUTHORIZED")
    assert_error(api.call("GET", "/admin/api/events", token=UPLOAD_TOKEN), 403, "FORBIDDEN")


@pytest.mark.parametrize("spent", ["visits", "events", "profiles"])
def test_each_kind_of_anonymous_write_has_a_budget_of_its_own(app, client, shop, spent):
    app.extensions[BUDGETS] = {kind: Budget(kind, 3 if kind == spent else 100) for kind in BUDGETS_PER_MINUTE}
    profile = f"/udid/profile.mobileconfig?variant={shop['variants']['ios']['id']}"
    attempts = {"visits": lambda: client.get("/products/demo"), "events": lambda: click(client, shop),
                "profiles": lambda: client.get(profile)}
    for _ in range(3):
        assert attempts[spent]().status_code in (200, 201)
    if spent == "visits":
        assert client.get("/products/demo").status_code == 200  # the page is still served, the visit not counted
        assert Event.select().where(Event.type == "visit").count() == 3
    else:
        assert_error(attempts[spent](), 429, "TOO_MANY_REQUESTS")
    for kind, attempt in attempts.items():
        if kind != spent:
            assert attempt().status_code in (200, 201), kind
