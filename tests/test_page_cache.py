"""Product pages, their JSON and the settings are cached per catalog revision: every write that changes what a
page shows (upload, edit, publish, delete, settings; through the API or straight into the database, as another
instance would) is seen by the next request, and a verdict turns when its profile expires without any write."""
import re
from datetime import timedelta

import pytest

from fenfa_lib.models import utcnow
from fenfa_lib.schema import REVISED_TABLES, UNREVISED_COLUMNS

from helpers import ADMIN_TOKEN
from iphone import register
from pg import column_names, separate_connection
from profiles import ipa_with_profile, signed_profile
from shop import EXE

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
IPHONE_IPA = "ios-iphone-binary-plist-no-icons.ipa"
UDID = "00008030-001A2B3C4D5E6F70"
OTHER_UDID = "00008101-000A1B2C3D4E5F60"


def page(client, path="/products/demo", user_agent=WINDOWS, status=200, **headers):
    response = client.get(path, headers={"User-Agent": user_agent, **headers})
    assert response.status_code == status
    return response.get_data(as_text=True)


def ios_card(html):
    return re.search(r'data-platform="ios">(.*?)</article>', html, re.S).group(1)


def other_instance(client):
    """A connection of its own to the app's database, as another Fenfa instance would have."""
    return separate_connection(client.application.config["FENFA"]["database_url"])


def revision(client):
    with other_instance(client) as connection:
        return connection.execute('SELECT "value" FROM "catalogrevision"').fetchone()[0]


@pytest.fixture
def cached_page(client, shop):
    """The demo page, asked for twice so that the second answer came from the cache."""
    first = page(client)
    assert page(client) == first
    return first


def test_an_upload_shows_on_the_cached_page(api, client, shop, cached_page):
    release = api.upload_release(shop["variants"]["windows"]["id"], "next.exe", EXE, version="9.9.9")
    html = page(client)
    assert release["id"] not in cached_page and release["id"] in html and "9.9.9" in html


@pytest.mark.parametrize("path,fields,shown", [
    ("/admin/api/products/{product}", {"name": "Renamed App"}, "<h1>Renamed App</h1>"),
    ("/admin/api/products/{product}", {"description": "Fresh words"}, "Fresh words"),
    ("/admin/api/variants/{windows}", {"display_name": "Win64"}, "<h2>Win64</h2>"),
])
def test_an_edit_shows_on_the_cached_page(api, client, shop, cached_page, path, fields, shown):
    ids = {"product": shop["product"]["id"], "windows": shop["variants"]["windows"]["id"]}
    api.data("PUT", path.format(**ids), json=fields)
    assert shown not in cached_page and shown in page(client)


def test_unpublishing_and_publishing_take_effect_at_once(api, client, shop, cached_page):
    product = f"/admin/api/products/{shop['product']['id']}"
    variant = f"/admin/api/variants/{shop['variants']['windows']['id']}"
    api.data("PUT", variant, json={"published": False})
    assert 'data-platform="windows"' in cached_page and 'data-platform="windows"' not in page(client)
    api.data("PUT", product, json={"published": False})
    page(client, status=404)
    assert client.get("/api/products/demo").status_code == 404
    api.data("PUT", product, json={"published": True})
    api.data("PUT", variant, json={"published": True})
    assert page(client) == cached_page


@pytest.mark.parametrize("kind", ["release", "variant", "product"])
def test_a_delete_takes_effect_at_once(api, client, shop, cached_page, kind):
    release = shop["releases"]["windows"]
    target = {"release": release["id"], "variant": shop["variants"]["windows"]["id"],
              "product": shop["product"]["id"]}[kind]
    api.data("DELETE", f"/admin/api/{kind}s/{target}")
    if kind == "product":
        page(client, status=404)
    else:
        assert release["id"] in cached_page and release["id"] not in page(client)


def test_saved_settings_show_on_the_cached_page_and_its_json(api, client, shop, cached_page):
    client.get("/api/products/demo")
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    assert "https://apps.example.com/products/demo" in page(client)
    data = client.get("/api/products/demo").json["data"]
    assert data["urls"]["page"] == "https://apps.example.com/products/demo"
    assert api.data("GET", "/admin/api/settings")["primary_domain"] == "https://apps.example.com"


def test_a_write_by_another_instance_is_seen_by_the_next_request(client, shop, cached_page):
    with other_instance(client) as connection:
        connection.execute("UPDATE product SET name = 'Renamed Elsewhere' WHERE slug = 'demo'")
        connection.execute("UPDATE settings SET organization = 'Elsewhere Inc'")
    assert "Renamed Elsewhere" in page(client)


def test_the_json_counts_downloads_while_its_page_is_cached(client, shop):
    release = shop["releases"]["windows"]

    def download_count():
        data = client.get("/api/products/demo", headers={"User-Agent": WINDOWS}).json["data"]
        return next(item["download_count"] for variant in data["variants"] for item in variant["releases"]
                    if item["id"] == release["id"])

    before = download_count()
    assert client.get(f"/d/{release['id']}").status_code == 200
    assert download_count() == before + 1


def test_each_host_gets_the_json_of_its_own_links_while_the_page_is_cached(client, shop):
    def links(host):
        data = client.get("/api/products/demo", headers={"User-Agent": WINDOWS}, base_url=f"http://{host}").json
        return {item["urls"]["download"] for variant in data["data"]["variants"] for item in variant["releases"]}

    first, second = links("a.example"), links("b.example")
    assert first and all(url.startswith("http://a.example/d/") for url in first)
    assert {url.replace("b.example", "a.example") for url in second} == first == links("a.example")


def test_downloads_leave_the_revision_alone(client, shop):
    before = revision(client)
    assert client.get(f"/d/{shop['releases']['windows']['id']}").status_code == 200
    assert revision(client) == before


@pytest.mark.parametrize("table", REVISED_TABLES)
def test_a_change_to_any_column_a_page_reads_moves_the_revision(client, shop, table):
    """Every column but the ones left out on purpose: a column added later without its trigger fails here."""
    with other_instance(client) as connection:
        columns = column_names(connection, table)
        assert "id" in columns
        for column in columns:
            before = revision(client)
            connection.execute(f'UPDATE "{table}" SET "{column}" = "{column}"')
            moved = revision(client) > before
            assert moved is (column not in UNREVISED_COLUMNS.get(table, ())), column


@pytest.fixture
def clock(monkeypatch):
    """The time the verdicts and the caches read, moved by the test."""
    now = [utcnow()]
    for module in ("fenfa_lib.verdict", "fenfa_lib.revision", "fenfa_lib.web.product_page"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: now[0])
    return now


def test_a_cached_verdict_turns_when_its_profile_expires(api, client, clock):
    variant = api.create_variant(api.create_product()["id"], platform="ios", display_name="iOS",
                                 identifier="com.icyleaf.AppInfoDemo")
    release = api.upload_release(variant["id"], "soon.ipa", ipa_with_profile(IPHONE_IPA, signed_profile(
        "enterprise", days=2)))
    assert "Install</a>" in ios_card(page(client, user_agent=IPHONE))
    assert client.get("/api/products/demo", headers={"User-Agent": IPHONE}).json["data"]["variants"][0][
        "releases"][0]["installable"]
    clock[0] += timedelta(days=3)
    card = ios_card(page(client, user_agent=IPHONE))
    assert "Install</a>" not in card and "provisioning profile expired" in card
    item = client.get("/api/products/demo", headers={"User-Agent": IPHONE}).json["data"]["variants"][0]["releases"][0]
    assert (item["id"], item["installable"], item["reason"]) == (release["id"], False, "profile_expired")


def test_a_page_with_a_return_token_is_never_served_to_anyone_else(api, client):
    variant = api.create_variant(api.create_product()["id"], platform="ios", display_name="iOS",
                                 identifier="com.icyleaf.AppInfoDemo")
    api.upload_release(variant["id"], "adhoc.ipa", ipa_with_profile(IPHONE_IPA, signed_profile("ad-hoc", [UDID])))
    response = register(client, variant["id"], OTHER_UDID)
    token = re.search(r"udid_token=([^&]+)", response.headers["Location"]).group(1)
    assert "Install</a>" in ios_card(page(client, user_agent=IPHONE))  # an unknown device may be in the profile
    mine = ios_card(page(client, f"/products/demo?udid_token={token}", user_agent=IPHONE))
    assert "This device is registered." in mine and "Install</a>" not in mine
    theirs = ios_card(page(client, user_agent=IPHONE))
    assert "This device is registered." not in theirs and "Install</a>" in theirs


def test_each_language_and_each_viewer_gets_its_own_page(client, shop):
    english, chinese = page(client, **{"Accept-Language": "en"}), page(client, **{"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in english and '<html lang="zh">' in chinese
    tester, admin = page(client), page(client, **{"X-Auth-Token": ADMIN_TOKEN})
    assert "HTTPS" not in tester and "HTTPS" in admin


def test_visits_are_counted_on_cached_pages(api, client, shop):
    for _ in range(3):
        page(client)
    stats = api.data("GET", f"/admin/api/variants/{shop['variants']['windows']['id']}/stats")
    assert stats["totals"]["visits"] == 3
