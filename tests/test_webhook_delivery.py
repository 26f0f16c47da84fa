"""The delivery worker against real HTTP receivers on loopback: the generic JSON and its HMAC signature, each chat
service's message shape and signature, retries after 1, 5 and 30 minutes (the worker's clock moved, not waited
for), a receiver that hangs, redirects, the private-address guard at send time, the test ping, claims two workers
race for, deliveries that outlive a restart, and a live server that delivers an upload's release.created once."""
import base64
import hashlib
import hmac
import json
import socket
import subprocess
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from fenfa_lib import webhook_delivery
from fenfa_lib.models import WebhookDelivery, db, utcnow
from fenfa_lib.webhook_delivery import DeliveryWorker, claim_due

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api
from live import call as live_call
from live import live_fenfa
from receiver import receiving
from shop import EXE

SECRET = "whsec-for-tests"
LONG_CHANGELOG = "Fixes login. " + "Much more. " * 80
SEND_TIMEOUT = 5  # the worker's send timeout in the tests: room for a loaded machine
HANG_TIMEOUT = 1.5  # instead of 10 s, for the receiver that hangs


@pytest.fixture
def receiver():
    with receiving() as running:
        yield running


@pytest.fixture
def api(make_app):
    """An admin API client of a Fenfa that lets webhooks post to loopback (the receivers are there)."""
    return Api(make_app(webhook_allow_private=True).test_client(), ADMIN_TOKEN)


@pytest.fixture
def worker():
    return DeliveryWorker(allow_private=True, timeout=SEND_TIMEOUT)


@pytest.fixture
def windows(api):
    product = api.create_product(name="Demo App", slug="demo")
    return api.create_variant(product["id"], platform="windows", display_name="Windows", identifier="setup")


def add_webhook(api, url, **fields):
    body = {"url": url, "events": ["release.created"], **fields}
    return api.data("POST", "/admin/api/webhooks", 201, json=body)["webhook"]


def upload(api, variant, content=EXE):
    return api.upload_release(variant["id"], "setup.exe", content, version="1.2.0", build="41", channel="beta",
                              changelog=LONG_CHANGELOG)


def listed_deliveries(api, webhook):
    return api.data("GET", f"/admin/api/webhooks/{webhook['id']}/deliveries")["items"]


def test_a_generic_webhook_gets_the_event_json_signed_with_its_secret_once(api, worker, receiver, windows):
    webhook = add_webhook(api, receiver.url, secret=SECRET)
    release = upload(api, windows)
    sent = worker.deliver_due()
    assert [delivery.state for delivery in sent] == ["done"]
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hook?key=abc"
    expected = hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Fenfa-Signature"] == f"sha256={expected}"
    assert request["headers"]["Content-Type"] == "application/json"
    body = receiver.json()
    assert body == WebhookDelivery.get_by_id(body["id"]).payload
    assert set(body) >= {"event", "id", "created_at", "product", "variant", "release", "urls"}
    assert (body["event"], body["release"]["id"]) == ("release.created", release["id"])
    assert request["headers"]["X-Fenfa-Delivery"] == body["id"]

    assert worker.deliver_due(utcnow() + timedelta(hours=2)) == []
    assert len(receiver.requests) == 1
    [delivery] = listed_deliveries(api, webhook)
    assert delivery == {**delivery, "id": body["id"], "event": "release.created", "state": "done", "attempt": 1,
                        "status_code": 204, "ok": True, "error": "", "next_attempt_at": None}


def test_without_a_secret_nothing_is_signed(api, worker, receiver, windows):
    add_webhook(api, receiver.url)
    upload(api, windows)
    worker.deliver_due()
    assert "X-Fenfa-Signature" not in receiver.requests[0]["headers"]


def test_a_failing_receiver_is_retried_after_1_5_and_30_minutes_then_given_up(api, worker, windows):
    with receiving(status=500, answer=b"boom") as failing:
        webhook = add_webhook(api, failing.url)
        upload(api, windows)
        start = utcnow()
        assert [d.attempt for d in worker.deliver_due(start)] == [1]
        for delay, attempt in ((1, 2), (5, 3), (30, 4)):
            [delivery] = listed_deliveries(api, webhook)
            assert (delivery["state"], delivery["status_code"], delivery["ok"]) == ("pending", 500, False)
            assert delivery["error"] == "HTTP 500: boom"
            due = start + timedelta(minutes=delay)
            assert worker.deliver_due(due - timedelta(seconds=1)) == []
            assert [d.attempt for d in worker.deliver_due(due)] == [attempt]
            start = due
        [delivery] = listed_deliveries(api, webhook)
        assert (delivery["state"], delivery["attempt"], delivery["next_attempt_at"]) == ("failed", 4, None)
        assert worker.deliver_due(start + timedelta(days=1)) == []
        assert len(failing.requests) == 4


def test_a_hanging_receiver_times_out_without_holding_up_the_others(api, receiver, windows):
    with receiving(hang=True) as hanging:
        stuck = add_webhook(api, hanging.url)
        fine = add_webhook(api, receiver.url)
        upload(api, windows)
        started = time.monotonic()
        sent = {delivery.webhook_id: delivery for delivery in
                DeliveryWorker(allow_private=True, timeout=HANG_TIMEOUT).deliver_due()}
        assert HANG_TIMEOUT <= time.monotonic() - started < HANG_TIMEOUT * 3
        assert sent[fine["id"]].state == "done" and len(receiver.requests) == 1
        assert sent[stuck["id"]].state == "pending" and "timed out" in sent[stuck["id"]].error
        assert sent[stuck["id"]].next_attempt_at is not None


def test_a_redirect_is_not_followed(api, worker, receiver, windows):
    with receiving(status=302, headers={"Location": receiver.url}) as redirecting:
        webhook = add_webhook(api, redirecting.url)
        upload(api, windows)
        worker.deliver_due()
    [delivery] = listed_deliveries(api, webhook)
    assert delivery["ok"] is False and "redirects are not followed" in delivery["error"]
    assert receiver.requests == []


def test_private_addresses_are_refused_at_send_time(api, receiver, windows):
    webhook = add_webhook(api, receiver.url)
    upload(api, windows)
    [delivery] = DeliveryWorker(allow_private=False).deliver_due()
    assert delivery.state == "pending" and "private address 127.0.0.1" in delivery.error
    assert receiver.requests == []
    assert listed_deliveries(api, webhook)[0]["error"] == delivery.error


def test_the_checked_address_is_the_one_connected_to(api, worker, receiver, windows, monkeypatch):
    """A host name is resolved once, checked, and that address used: a second DNS answer (rebinding) is never
    asked for. Host header and path stay the URL's."""
    port = urlsplit(receiver.url).port
    answers = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        answers.append(host)
        return real_getaddrinfo("127.0.0.1" if host == "hooks.fenfa.test" else host, *args, **kwargs)

    add_webhook(api, f"http://hooks.fenfa.test:{port}/rebound")
    upload(api, windows)
    monkeypatch.setattr(webhook_delivery.socket, "getaddrinfo", getaddrinfo)
    [delivery] = worker.deliver_due()
    assert delivery.state == "done"
    assert answers.count("hooks.fenfa.test") == 1
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.fenfa.test:{port}"
    assert receiver.requests[0]["path"] == "/rebound"


@pytest.mark.parametrize("kind,shape", [
    ("slack", lambda body: body["blocks"][0]["type"] == "section" and body["text"]),
    ("discord", lambda body: body["embeds"][0]["title"] and body["allowed_mentions"] == {"parse": []}),
    ("feishu", lambda body: body["msg_type"] == "post" and body["content"]["post"]["zh_cn"]["title"]),
    ("dingtalk", lambda body: body["msgtype"] == "markdown" and body["markdown"]["title"]),
    ("wecom", lambda body: body["msgtype"] == "markdown" and body["markdown"]["content"]),
])
def test_each_chat_service_gets_its_own_message_format(api, worker, receiver, windows, kind, shape):
    add_webhook(api, receiver.url, kind=kind)
    release = upload(api, windows)
    worker.deliver_due()
    body = receiver.json()
    assert shape(body)
    text = json.dumps(body, ensure_ascii=False)
    for expected in ("Demo App", "Windows", "1.2.0 (41)", "beta", "Fixes login.",
                     f"http://localhost/products/demo?r={release['id']}"):
        assert expected in text, f"{kind}: {expected!r} missing from {text}"
    changelog = text.index("Fixes login.")
    assert 450 < text.index("…", changelog) - changelog <= 499  # shortened to 500 characters with the ellipsis
    assert "X-Fenfa-Signature" not in receiver.requests[0]["headers"]


def test_feishu_is_signed_in_the_body(api, worker, receiver, windows):
    add_webhook(api, receiver.url, kind="feishu", secret=SECRET)
    upload(api, windows)
    worker.deliver_due()
    body = receiver.json()
    key = f"{body['timestamp']}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert abs(int(body["timestamp"]) - time.time()) < 60


def test_dingtalk_is_signed_in_the_query(api, worker, receiver, windows):
    add_webhook(api, receiver.url, kind="dingtalk", secret=SECRET)
    upload(api, windows)
    worker.deliver_due()
    query = parse_qs(urlsplit(receiver.requests[0]["path"]).query)
    assert query["key"] == ["abc"]
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    expected = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert sign == base64.b64encode(expected).decode()
    assert abs(int(timestamp) / 1000 - time.time()) < 60


def test_a_200_in_which_the_service_refuses_is_a_failure_not_retried(api, worker, windows):
    refusal = json.dumps({"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}).encode()
    with receiving(status=200, answer=refusal) as feishu:
        webhook = add_webhook(api, feishu.url, kind="feishu", secret="wrong")
        upload(api, windows)
        worker.deliver_due()
        assert worker.deliver_due(utcnow() + timedelta(hours=1)) == []
    [delivery] = listed_deliveries(api, webhook)
    assert (delivery["state"], delivery["status_code"], delivery["ok"]) == ("failed", 200, False)
    assert "19021 sign match fail" in delivery["error"]


def test_the_test_button_sends_a_ping_at_once_and_answers_the_delivery(make_app, receiver):
    api = Api(make_app(webhook_allow_private=True).test_client(), ADMIN_TOKEN)
    webhook = add_webhook(api, receiver.url, secret=SECRET, enabled=False)
    delivery = api.data("POST", f"/admin/api/webhooks/{webhook['id']}/test")["delivery"]
    assert delivery == {**delivery, "event": "ping", "state": "done", "attempt": 1, "ok": True, "status_code": 204}
    assert receiver.json()["event"] == "ping" and receiver.json()["id"] == delivery["id"]
    with receiving(status=503) as failing:
        api.data("PUT", f"/admin/api/webhooks/{webhook['id']}", json={"url": failing.url})
        failed = api.data("POST", f"/admin/api/webhooks/{webhook['id']}/test")["delivery"]
    assert (failed["state"], failed["ok"], failed["status_code"], failed["next_attempt_at"]) == (
        "failed", False, 503, None)
    assert [item["id"] for item in listed_deliveries(api, webhook)] == [failed["id"], delivery["id"]]


def test_a_disabled_webhooks_pending_deliveries_fail_unsent(api, worker, receiver, windows):
    webhook = add_webhook(api, receiver.url)
    upload(api, windows)
    api.data("PUT", f"/admin/api/webhooks/{webhook['id']}", json={"enabled": False})
    [delivery] = worker.deliver_due()
    assert (delivery.state, delivery.error) == ("failed", "the webhook is disabled")
    assert receiver.requests == []


def test_each_due_delivery_goes_to_one_of_many_claiming_workers(api, receiver, windows):
    add_webhook(api, receiver.url)
    for number in range(12):
        upload(api, windows, EXE + bytes([number]))
    now, claimed = utcnow(), []

    def claim_some():
        with db.connection_context():
            while batch := claim_due(now, limit=2):
                claimed.extend(delivery.id for delivery in batch)

    threads = [threading.Thread(target=claim_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(delivery.id for delivery in WebhookDelivery.select())
    assert {delivery.attempt for delivery in WebhookDelivery.select()} == {1}
    assert claim_due(now) == []  # each is leased until CLAIM_LEASE has passed
    assert len(claim_due(now + webhook_delivery.CLAIM_LEASE)) == 12


def test_pending_deliveries_survive_a_restart(make_app, receiver, worker):
    before = Api(make_app(webhook_allow_private=True).test_client(), ADMIN_TOKEN)
    product = before.create_product(name="Demo App", slug="demo")
    variant = before.create_variant(product["id"], platform="windows", display_name="Windows", identifier="setup")
    add_webhook(before, receiver.url)
    upload(before, variant)
    assert receiver.requests == []
    make_app(webhook_allow_private=True)  # the restart: a new app on the same data dir
    assert [delivery.state for delivery in worker.deliver_due()] == ["done"]
    assert receiver.json()["event"] == "release.created"


def api_json(base, method, path, body=None, token=ADMIN_TOKEN):
    return live_call(base, method, path, body, token, timeout=10).json()["data"]


def test_a_live_server_delivers_an_uploads_release_created_exactly_once(data_dir, receiver, tmp_path):
    build = tmp_path / "setup.exe"
    build.write_bytes(EXE)
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN,
                    webhook_allow_private="true") as server:
        product = api_json(server.base, "POST", "/admin/api/products", {"name": "Live", "slug": "live"})["product"]
        variant = api_json(server.base, "POST", f"/admin/api/products/{product['id']}/variants",
                           {"platform": "windows", "display_name": "Windows", "identifier": "setup"})["variant"]
        webhook = api_json(server.base, "POST", "/admin/api/webhooks",
                           {"url": receiver.url, "events": ["release.created"], "secret": SECRET})["webhook"]
        answer = subprocess.run(["curl", "-sS", "--fail-with-body", "-H", f"X-Auth-Token: {UPLOAD_TOKEN}",
                                 "-F", f"variant_id={variant['id']}", "-F", f"app_file=@{build}",
                                 f"{server.base}/upload"], capture_output=True, timeout=60, check=True)
        release = json.loads(answer.stdout)["data"]["release"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not receiver.requests:
            time.sleep(0.05)
        assert receiver.json()["release"]["id"] == release["id"]
        deliveries = api_json(server.base, "GET", f"/admin/api/webhooks/{webhook['id']}/deliveries")
    assert deliveries["total"] == 1
    assert deliveries["items"][0] == {**deliveries["items"][0], "state": "done", "attempt": 1, "ok": True}
    assert len(receiver.requests) == 1
