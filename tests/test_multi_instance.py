"""Two Fenfa servers, each with a data dir of its own as on two machines, on one PostgreSQL database and one S3
bucket (SPEC §14): they serve the same data. A build uploaded through one downloads through the other with exact
counts, a UDID profile from one takes the device's callback on the other, settings saved on one are seen by the
other at once, a webhook delivery is sent once though both run the delivery worker, an admin session and a
lockout hold on both, and so do the per-address budgets.

The two servers are shared by the module's tests; each test makes a product of its own, and the tests that spend a
per-address budget or lockout come from an address of their own (the servers trust one proxy hop, so a test picks
its client address with X-Forwarded-For). Neither server is given a secret key: the one they share must be the
one created once in the database."""
import hashlib
import json
import plistlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from fenfa_lib.address_limits import FAILURES
from fenfa_lib.web.budget import BUDGETS_PER_MINUTE

from cluster import (
    client_address,
    curl_download,
    curl_upload,
    make_product,
    names,
    running_cluster,
    unique,
    wait_until,
    windows_build,
)
from helpers import ADMIN_TOKEN
from iphone import der_body, device_plist
from receiver import receiving
from s3server import client as s3_client

PROFILE_BUDGET = BUDGETS_PER_MINUTE["profiles"]


@pytest.fixture(scope="module")
def cluster(postgres_server, s3_server, tmp_path_factory):
    """Servers A and B on one database and one bucket, shared by the module's tests (tests/cluster.py)."""
    with running_cluster(postgres_server, s3_server, tmp_path_factory.mktemp) as running:
        yield running


# 1. Builds and their download counts.

def test_a_build_uploaded_through_a_downloads_through_both_with_exact_counts(cluster, tmp_path):
    a, b = cluster.a, cluster.b
    product, variant = make_product(a)
    build = windows_build(tmp_path / "setup.exe", product["id"])
    sha256 = hashlib.sha256(build.read_bytes()).hexdigest()
    release = curl_upload(a, variant["id"], build, version="1.0.0")
    assert release["sha256"] == sha256
    keys = [item["Key"] for item in s3_client(cluster.s3).list_objects_v2(
        Bucket=cluster.bucket, Prefix=f"{product['id']}/")["Contents"]]
    assert f"{product['id']}/{variant['id']}/{release['id']}/setup.exe" in keys

    through_b, through_a = 7, 5
    servers = [b] * through_b + [a] * through_a
    with ThreadPoolExecutor(6) as pool:  # at once, so that the two servers' increments race
        hashes = list(pool.map(lambda job: curl_download(job[1], release["id"], tmp_path / f"download-{job[0]}"),
                               enumerate(servers)))
    assert hashes == [sha256] * len(servers)

    expected = through_b + through_a
    for server in (a, b):
        listed = server.data("GET", f"/admin/api/releases?variant_id={variant['id']}")["items"]
        assert [(item["id"], item["download_count"]) for item in listed] == [(release["id"], expected)], server
        stats = server.data("GET", f"/admin/api/variants/{variant['id']}/stats")
        assert stats["totals"]["downloads"] == expected, server
        assert sum(day["downloads"] for day in stats["downloads_per_day"]) == expected, server
        page = server.data("GET", f"/api/products/{product['slug']}", token=None)
        counts = [(item["id"], item["download_count"]) for item in releases_of(page)]
        assert counts == [(release["id"], expected)], server
        downloads = server.data("GET", f"/admin/api/events?type=download&variant_id={variant['id']}")
        assert downloads["total"] == expected, server


def releases_of(page):
    """Every release a product page's JSON lists, whatever its nesting (cards of variants of releases)."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            if str(value.get("id", "")).startswith("rel_") and "download_count" in value:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(page)
    return found


# 2. UDID registration across the two servers.

def test_a_udid_profile_from_a_takes_the_callback_on_b(cluster):
    a, b = cluster.a, cluster.b
    product, variant = make_product(a, platform="ios", identifier="com.example.multi")
    udid_value = f"00008030-{next(names):016X}"
    profile = a.call("GET", f"/udid/profile.mobileconfig?variant={variant['id']}", token=None)
    assert profile.status == 200, profile.text()
    nonce = profile.cookie("udid_nonce")
    content = plistlib.loads(profile.body)["PayloadContent"]
    assert content["Challenge"] == nonce
    callback = urlsplit(content["URL"])
    assert (callback.path, parse_qs(callback.query)) == ("/udid/callback", {"nonce": [nonce]})

    # The device posts to the address in the profile; behind a load balancer that request may reach B.
    answer = b.call("POST", f"{callback.path}?{callback.query}", token=None,
                    body=der_body(device_plist(udid_value, nonce)),
                    headers={"Content-Type": "application/pkcs7-signature"})
    assert answer.status == 301, answer.text()
    location = urlsplit(answer.headers["Location"])
    assert location.path == f"/products/{product['slug']}"
    token = parse_qs(location.query)["udid_token"][0]

    devices = a.data("GET", f"/admin/api/ios_devices?q={udid_value}")["items"]
    assert [(device["udid"], device["variant_ids"]) for device in devices] == [(udid_value, [variant["id"]])]
    assert token.startswith(devices[0]["id"] + ".")
    # Bound, and not in the newest build's profile: the variant has no build yet.
    bound = {"bound": True, "udid": f"{udid_value[:4]}…{udid_value[-4:]}", "in_profile": False}
    for server in (a, b):  # the browser that fetched the profile from A, by its nonce cookie, on either server
        status = server.data("GET", f"/udid/status?variant={variant['id']}", token=None,
                             headers={"Cookie": f"udid_nonce={nonce}"})
        assert status == bound, server
    # Safari follows B's redirect; the page's requests may reach A, which must accept the token B signed.
    for server in (b, a):
        status = server.data("GET", f"/udid/status?variant={variant['id']}&udid_token={token}", token=None)
        assert status == bound, f"{server} does not accept the return token B signed (is the secret shared?)"


# 3. Settings.

def test_settings_saved_through_a_are_seen_by_b_at_once(cluster):
    a, b = cluster.a, cluster.b
    product, variant = make_product(a, platform="ios", identifier="com.example.settings")
    domain, organization = f"https://{unique('apps')}.example.test", unique("Example Corp")
    page_path = f"/api/products/{product['slug']}"
    assert b.data("GET", page_path, token=None)["product"]  # B caches the page at the current revision
    before = b.call("GET", f"/products/{product['slug']}", token=None)
    assert before.status == 200 and domain not in before.text()
    previous = a.data("GET", "/admin/api/settings")
    try:
        saved = a.data("PUT", "/admin/api/settings", {"primary_domain": domain, "organization": organization})
        assert (saved["primary_domain"], saved["organization"]) == (domain, organization)

        seen = b.data("GET", "/admin/api/settings")
        assert (seen["primary_domain"], seen["organization"]) == (domain, organization)
        page = b.data("GET", page_path, token=None)
        assert f"{domain}/products/{product['slug']}" in json.dumps(page), page
        html = b.call("GET", f"/products/{product['slug']}", token=None)
        assert html.status == 200 and f"{domain}/" in html.text()
        profile = b.call("GET", f"/udid/profile.mobileconfig?variant={variant['id']}", token=None)
        assert profile.status == 200, profile.text()
        content = plistlib.loads(profile.body)
        assert content["PayloadOrganization"] == organization
        assert content["PayloadContent"]["URL"].startswith(f"{domain}/udid/callback?nonce=")
    finally:
        a.data("PUT", "/admin/api/settings", {"primary_domain": previous["primary_domain"],
                                               "organization": previous["organization"]})
    assert b.data("GET", "/admin/api/settings")["primary_domain"] == previous["primary_domain"]


# 4. Webhooks.

def test_each_webhook_delivery_is_sent_once_though_both_servers_deliver(cluster, tmp_path):
    a, b = cluster.a, cluster.b
    product, variant = make_product(a)
    uploads = 10
    with receiving(pause=0.1) as receiver:  # one worker's senders stay busy while the other polls
        webhook = a.data("POST", "/admin/api/webhooks", {
            "url": receiver.url, "events": ["release.created"], "product_id": product["id"]}, status=201)["webhook"]
        build = windows_build(tmp_path / "setup.exe", product["id"], size=4096)
        releases = [curl_upload((a, b)[number % 2], variant["id"], build, version=f"1.0.{number}")["id"]
                    for number in range(uploads)]

        def all_done():
            listed = b.data("GET", f"/admin/api/webhooks/{webhook['id']}/deliveries?limit=100")
            finished = listed["total"] == uploads and all(item["state"] != "pending" for item in listed["items"])
            return listed["items"] if finished and len(receiver.requests) >= uploads else None

        deliveries = wait_until(all_done, f"{uploads} deliveries to be sent and recorded")
        received = receiver.bodies()
    assert [(item["state"], item["attempt"], item["ok"]) for item in deliveries] == [("done", 1, True)] * uploads
    sent = Counter(body["id"] for body in received)
    assert sent == Counter({item["id"]: 1 for item in deliveries})  # each delivery once, none missing
    assert sorted(body["release"]["id"] for body in received) == sorted(releases)
    assert {body["event"] for body in received} == {"release.created"}


# 5. Admin sessions and the lockout.

def sign_in(server, token, client=None, cookie=None):
    """GET /admin for the form's CSRF token, then post the sign-in form; the answer, and the session cookie."""
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    form_page = server.call("GET", "/admin", token=None, client=client, headers=headers)
    assert form_page.status == 200, form_page.text()
    cookie = form_page.cookie("session") or cookie
    csrf = form_page.text().split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = server.call("POST", "/admin/sign-in", token=None, client=client,
                         body=urlencode({"csrf": csrf, "token": token}).encode(),
                         headers={"Cookie": f"session={cookie}",
                                  "Content-Type": "application/x-www-form-urlencoded"})
    return answer, answer.cookie("session") or cookie


def test_an_admin_signed_in_on_a_is_signed_in_on_b(cluster):
    a, b = cluster.a, cluster.b
    answer, cookie = sign_in(a, ADMIN_TOKEN)
    assert (answer.status, answer.headers["Location"]) == (303, "/admin/products"), answer.text()
    session = {"Cookie": f"session={cookie}"}
    page = a.call("GET", "/admin/products", token=None, headers=session)
    assert page.status == 200
    csrf = page.text().split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]

    on_b = b.call("GET", "/admin/products", token=None, headers=session)
    assert on_b.status == 200, f"B turns A's signed-in browser away: {on_b.status} {on_b.headers.get('Location')}"
    slug = unique("panel")
    created = b.data("POST", "/admin/api/products", {"name": "From the panel", "slug": slug}, status=201, token=None,
                     headers={**session, "X-CSRF-Token": csrf})["product"]
    assert a.data("GET", f"/admin/api/products/{created['id']}")["product"]["slug"] == slug

    signed_out = b.call("POST", "/admin/sign-out", token=None, body=urlencode({"csrf": csrf}).encode(),
                        headers={**session, "Content-Type": "application/x-www-form-urlencoded"})
    assert signed_out.status == 303, signed_out.text()
    for server in (a, b):  # the session ended on the server, for every copy of the cookie
        assert server.call("GET", "/admin/products", token=None, headers=session).status == 303, server


def assert_locked_out(server, client):
    refused = server.call("GET", "/admin/api/products", client=client)
    assert refused.status == 429, f"{server} does not lock {client} out: {refused.status} {refused.text()}"
    assert refused.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert sign_in(server, ADMIN_TOKEN, client=client)[0].status == 429, server


def test_an_address_locked_out_on_a_is_locked_out_on_b(cluster):
    a, b = cluster.a, cluster.b

    client = client_address()
    for _ in range(FAILURES):
        assert a.call("GET", "/admin/api/products", token="guess", client=client).status == 401
    assert_locked_out(a, client)
    assert_locked_out(b, client)
    assert b.call("GET", "/admin/api/products", client=client_address()).status == 200  # other addresses are not


def test_failed_sign_ins_and_unknown_tokens_on_both_servers_add_up_to_the_lockout(cluster):
    a, b = cluster.a, cluster.b

    client = client_address()
    for number in range(FAILURES - 1):
        if number % 2:
            assert b.call("GET", "/admin/api/products", token="guess", client=client).status == 401
        else:
            assert sign_in(a, "wrong", client=client)[0].status == 401
    for server in (a, b):  # nine failures: not locked out yet
        assert server.call("GET", "/admin/api/products", client=client).status == 200, server
    assert sign_in(b, "wrong", client=client)[0].status == 401  # the tenth
    assert_locked_out(a, client)
    assert_locked_out(b, client)


# 6. Per-address budgets.

def test_the_udid_profile_budget_is_shared_by_both_servers(cluster):
    a, b = cluster.a, cluster.b
    _, variant = make_product(a, platform="ios", identifier="com.example.budget")
    path = f"/udid/profile.mobileconfig?variant={variant['id']}"

    client = client_address()
    statuses = Counter((server.name, server.call("GET", path, token=None, client=client).status)
                       for server in [a, b] * (PROFILE_BUDGET // 2))
    assert statuses == {("A", 200): PROFILE_BUDGET // 2, ("B", 200): PROFILE_BUDGET // 2}
    for server in (a, b):
        refused = server.call("GET", path, token=None, client=client)
        assert refused.status == 429, (f"{server} answers {refused.status} to profile {PROFILE_BUDGET + 1} "
                                       f"of {client} within a minute, half of them asked of the other server")
        assert refused.json()["error"]["code"] == "TOO_MANY_REQUESTS"
        assert 0 < int(refused.headers["Retry-After"]) <= 60
    other = b.call("GET", path, token=None, client=client_address())
    assert other.status == 200  # the budget is per address
