"""Share links: made, listed and revoked through the admin API; /s/<token> lets its holder into a protected
product until the link expires (a moved clock), is revoked or has been used for its full downloads."""
import plistlib
from datetime import datetime, timedelta

import pytest

from fenfa_lib.models import Release, ShareLink

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error
from protected import IPHONE, install_url, local, moved_clock

HOUR = timedelta(hours=1)


@pytest.fixture
def clock(monkeypatch):
    return moved_clock(monkeypatch)


@pytest.fixture
def private(api, shop):
    api.data("PUT", f"/admin/api/products/{shop['product']['id']}", json={"access": "private"})
    return shop


def make_link(api, product_id, **fields):
    return api.data("POST", f"/admin/api/products/{product_id}/links", 201, json=fields)["link"]


def follow(client, link):
    """Open the link's /s/ URL as a tester's browser does."""
    return client.get(local(link["url"]))


def moment(text):
    return datetime.fromisoformat(text.removesuffix("Z"))


def test_a_link_with_the_defaults(api, private, clock):
    link = make_link(api, private["product"]["id"])
    assert link["id"].startswith("lnk_") and len(link["id"]) == 20
    assert link["url"] == f"http://localhost/s/{link['id']}." + link["url"].rsplit(".", 1)[1]
    assert moment(link["expires_at"]) == (clock[0] + timedelta(hours=168)).replace(microsecond=0)
    assert (link["max_downloads"], link["download_count"], link["revoked"], link["state"]) == (None, 0, False,
                                                                                               "live")


def test_a_link_lets_its_holder_into_a_private_product(app, api, client, private):
    link = make_link(api, private["product"]["id"], expires_in_hours=2, max_downloads=3, note="for QA")
    assert client.get("/products/demo").status_code == 401
    response = follow(client, link)
    assert response.status_code == 302 and response.headers["Location"] == "/products/demo"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert client.get("/products/demo").status_code == 200
    assert client.get("/api/products/demo").status_code == 200
    assert app.test_client().get("/products/demo").status_code == 401


def test_the_links_are_listed_newest_first_with_the_same_urls(api, private, clock):
    first = make_link(api, private["product"]["id"], note="first")
    clock[0] += HOUR
    second = make_link(api, private["product"]["id"], max_downloads=1)
    listed = api.data("GET", f"/admin/api/products/{private['product']['id']}/links")
    assert listed["total"] == 2
    assert [item["id"] for item in listed["items"]] == [second["id"], first["id"]]
    assert [item["url"] for item in listed["items"]] == [second["url"], first["url"]]
    assert listed["items"][1]["note"] == "first"


def test_an_expired_link_answers_410_and_its_cookie_stops_working(api, client, private, clock):
    link = make_link(api, private["product"]["id"], expires_in_hours=1)
    follow(client, link)
    clock[0] += HOUR - timedelta(seconds=1)
    assert client.get("/products/demo").status_code == 200
    clock[0] += timedelta(seconds=2)
    assert client.get("/products/demo").status_code == 401
    gone = follow(client, link)
    assert gone.status_code == 410 and "expired" in gone.get_data(as_text=True)
    assert 'data-state="expired"' in gone.get_data(as_text=True)
    assert api.data("GET", f"/admin/api/products/{private['product']['id']}/links")["items"][0]["state"] == "expired"


def test_a_revoked_link_answers_410_at_once_and_ends_its_cookie_and_install_tokens(app, api, client, private):
    link = make_link(api, private["product"]["id"])
    follow(client, link)
    html = client.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True)
    manifest = local(install_url(html))
    assert app.test_client().get(manifest).status_code == 200
    revoked = api.data("DELETE", f"/admin/api/links/{link['id']}")
    assert revoked["deleted"] == link["id"] and revoked["link"]["revoked"] is True
    assert client.get("/products/demo").status_code == 401
    assert_error(app.test_client().get(manifest), 401, "UNAUTHORIZED")
    gone = follow(client, link)
    assert gone.status_code == 410 and "revoked" in gone.get_data(as_text=True)
    again = api.data("DELETE", f"/admin/api/links/{link['id']}")
    assert again["link"]["revoked_at"] == revoked["link"]["revoked_at"]


def test_full_downloads_through_a_link_count_against_its_cap(api, client, private):
    link = make_link(api, private["product"]["id"], max_downloads=2)
    follow(client, link)
    release_id = private["releases"]["android"]["id"]
    path = f"/d/{release_id}"
    assert client.get(path, headers={"Range": "bytes=0-99"}).status_code == 206  # a probe: not a download
    assert client.head(path).status_code == 200
    size = Release.get_by_id(release_id).size_bytes
    assert client.get(path, headers={"Range": f"bytes=100-{size - 1}"}).status_code == 206  # a resumed range
    assert client.get(path).status_code == 200
    assert client.get(path, headers={"Range": "bytes=0-"}).status_code == 206  # the whole file: counts
    assert ShareLink.get_by_id(link["id"]).download_count == 2
    assert_error(client.get(path), 401, "UNAUTHORIZED")
    assert Release.get_by_id(release_id).download_count == 2
    gone = follow(client, link)
    assert gone.status_code == 410 and 'data-state="used_up"' in gone.get_data(as_text=True)
    assert client.get("/products/demo").status_code == 401
    listed = api.data("GET", f"/admin/api/products/{private['product']['id']}/links")["items"][0]
    assert (listed["download_count"], listed["state"]) == (2, "used_up")


def test_an_ios_install_through_a_link_counts_against_it(app, api, client, private):
    link = make_link(api, private["product"]["id"], max_downloads=1)
    follow(client, link)
    html = client.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True)
    ios = app.test_client()
    manifest = plistlib.loads(ios.get(local(install_url(html))).data)
    package = local(manifest["items"][0]["assets"][0]["url"])
    assert ios.get(package).status_code == 200
    assert ShareLink.get_by_id(link["id"]).download_count == 1
    assert_error(ios.get(package), 401, "UNAUTHORIZED")


def test_the_link_token_works_as_t_for_apps(app, api, private):
    """An app of a private product checks for updates with its link's token."""
    link = make_link(api, private["product"]["id"])
    token = link["url"].rsplit("/", 1)[1]
    app_client = app.test_client()
    path = "/api/update-check?product=demo&platform=android&version=0"
    assert_error(app_client.get(path), 401, "UNAUTHORIZED")
    answer = app_client.get(f"{path}&t={token}")
    assert answer.status_code == 200
    assert app_client.get(local(answer.json["data"]["latest"]["download_url"])).status_code == 200


@pytest.mark.parametrize("token", ["lnk_0123456789abcdef.forged", "nothing", "lnk_0123456789abcdef"])
def test_a_forged_link_is_404(app, api, private, token):
    make_link(api, private["product"]["id"])
    response = app.test_client().get(f"/s/{token}")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


def test_a_link_of_another_product_opens_only_its_own(api, client, private):
    other = api.create_product(name="Other", slug="other", access="private")
    follow(client, make_link(api, other["id"]))
    assert client.get("/products/other").status_code == 200
    assert client.get("/products/demo").status_code == 401


def test_links_of_a_deleted_product_go_with_it(api, private):
    link = make_link(api, private["product"]["id"])
    api.data("DELETE", f"/admin/api/products/{private['product']['id']}")
    assert ShareLink.get_or_none(ShareLink.id == link["id"]) is None


@pytest.mark.parametrize(("body", "message"), [
    ({"expires_in_hours": 0}, "expires_in_hours must be between 1 and 8760"),
    ({"expires_in_hours": 8761}, "expires_in_hours must be between 1 and 8760"),
    ({"expires_in_hours": "24"}, "expires_in_hours must be an integer"),
    ({"expires_in_hours": True}, "expires_in_hours must be an integer"),
    ({"max_downloads": 0}, "max_downloads must be between 1"),
    ({"max_downloads": 1.5}, "max_downloads must be an integer"),
    ({"note": "x" * 201}, "note must be at most 200 characters"),
    ({"note": 5}, "note must be a string"),
    ({"expires": 5}, "unknown field: expires"),
])
def test_bad_link_fields_are_refused(api, private, body, message):
    response = api.call("POST", f"/admin/api/products/{private['product']['id']}/links", json=body)
    assert_error(response, 400, "BAD_REQUEST", message)
    assert ShareLink.select().count() == 0


def test_links_need_an_admin_and_a_product(api, private):
    product_id = private["product"]["id"]
    assert_error(api.call("POST", f"/admin/api/products/{product_id}/links", token=UPLOAD_TOKEN, json={}), 403,
                 "FORBIDDEN")
    assert_error(api.call("GET", f"/admin/api/products/{product_id}/links", token=""), 401, "UNAUTHORIZED")
    assert_error(api.call("POST", "/admin/api/products/prd_0000000000000000/links", json={}), 404, "NOT_FOUND")
    assert_error(api.call("DELETE", "/admin/api/links/lnk_0000000000000000"), 404, "NOT_FOUND")
    assert api.call("GET", f"/admin/api/products/{product_id}/links", headers={"X-Auth-Token": ADMIN_TOKEN},
                    token="").status_code == 200


def test_each_visitor_installs_through_their_own_link(app, api, private):
    """Pages are cached per grant: a page built for one link's holder never hands its install token to another."""
    first, second = (make_link(api, private["product"]["id"], max_downloads=1) for _ in range(2))
    for link in (first, second):
        browser = app.test_client()
        follow(browser, link)
        html = browser.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True)
        ios = app.test_client()
        manifest = plistlib.loads(ios.get(local(install_url(html))).data)
        assert ios.get(local(manifest["items"][0]["assets"][0]["url"])).status_code == 200
        assert ShareLink.get_by_id(link["id"]).download_count == 1
