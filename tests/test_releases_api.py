"""PUT /admin/api/releases/:id (changelog, channel, pinned), GET /admin/api/releases with its filters, and the
variants' keep_releases field."""
import pytest

from fenfa_lib.models import Release, Variant

from helpers import UPLOAD_TOKEN, assert_error

APK = "android-politedroid-minsdk3-tiny.apk"
EXE = b"MZ" + bytes(range(256)) * 8
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def android(api):
    return api.create_variant(api.create_product()["id"], identifier="com.politedroid")


@pytest.fixture
def release(api, android):
    return api.upload_release(android["id"], APK, channel="beta", changelog="First")


# PUT /admin/api/releases/:id

def test_a_release_update_changes_what_it_names_and_nothing_else(api, release):
    changed = api.data("PUT", f"/admin/api/releases/{release['id']}",
                       json={"changelog": "Fixes\nmore", "pinned": True})["release"]
    assert (changed["changelog"], changed["pinned"], changed["channel"]) == ("Fixes\nmore", True, "beta")
    row = Release.get_by_id(release["id"])
    assert (row.changelog, row.pinned, row.channel, row.version) == ("Fixes\nmore", True, "beta", release["version"])
    assert api.data("PUT", f"/admin/api/releases/{release['id']}", json={"channel": None})["release"]["channel"] == ""


def test_an_empty_release_update_changes_nothing(api, release):
    assert api.data("PUT", f"/admin/api/releases/{release['id']}", json={})["release"]["changelog"] == "First"


@pytest.mark.parametrize(("body", "message"), [
    ({"version": "2.0"}, "unknown field: version"),
    ({"pinned": "yes"}, "pinned must be true or false"),
    ({"pinned": None}, "pinned must be true or false"),
    ({"channel": "c" * 33}, "channel must be at most 32 characters"),
    ({"channel": "be\tta"}, "channel must not contain control characters"),
    ({"channel": 3}, "channel must be a string"),
    ({"changelog": "x" * 20001}, "changelog must be at most 20000 characters"),
    ({"changelog": "bell\x07"}, "changelog must not contain control characters"),
])
def test_bad_release_updates_are_400_and_change_nothing(api, release, body, message):
    assert_error(api.call("PUT", f"/admin/api/releases/{release['id']}", json=body), 400, "BAD_REQUEST", message)
    row = Release.get_by_id(release["id"])
    assert (row.changelog, row.channel, row.pinned) == ("First", "beta", False)


def test_release_updates_need_an_admin_and_a_release(api, release):
    assert_error(api.call("PUT", f"/admin/api/releases/{release['id']}", token=UPLOAD_TOKEN, json={"pinned": True}),
                 403, "FORBIDDEN")
    assert_error(api.call("PUT", "/admin/api/releases/rel_0000000000000000", json={"pinned": True}), 404, "NOT_FOUND")
    assert Release.get_by_id(release["id"]).pinned is False


# GET /admin/api/releases

@pytest.fixture
def releases(api, android):
    """Four releases, oldest first: two Android builds of one commit, a Windows build and a later Android one."""
    windows = api.create_variant(android["product_id"], platform="windows", display_name="Windows", identifier="x")
    other_product = api.create_product(slug="other")
    linux = api.create_variant(other_product["id"], platform="linux", display_name="Linux", identifier="y")
    return [
        api.upload_release(android["id"], APK, version="1.0", build="1", git_commit=COMMIT),
        api.upload_release(android["id"], APK, version="1.0", build="2", channel="beta", git_commit=COMMIT),
        api.upload_release(windows["id"], "setup.exe", EXE, version="2.0", build="7"),
        api.upload_release(linux["id"], "app.zip", b"PK\x05\x06" + b"\0" * 18, version="1.0"),
    ]


def listed(api, **filters):
    data = api.data("GET", "/admin/api/releases", query_string=filters)
    return [item["id"] for item in data["items"]], data["total"]


def test_releases_are_listed_newest_first_with_admin_fields(api, releases):
    data = api.data("GET", "/admin/api/releases")
    assert [item["id"] for item in data["items"]] == [release["id"] for release in reversed(releases)]
    assert data["total"] == 4
    assert data["items"][-1]["ci"]["git_commit"] == COMMIT
    assert {"pinned", "storage", "provisioning_profile"} <= set(data["items"][0])


def test_release_filters(api, android, releases):
    first, second, windows, linux = (release["id"] for release in releases)
    assert listed(api, variant_id=android["id"]) == ([second, first], 2)
    assert listed(api, product_id=android["product_id"]) == ([windows, second, first], 3)
    assert listed(api, version="1.0") == ([linux, second, first], 3)
    assert listed(api, version="1.0", build="2") == ([second], 1)
    assert listed(api, channel="beta") == ([second], 1)
    assert listed(api, git_commit=COMMIT[:7].upper()) == ([second, first], 2)
    assert listed(api, git_commit=COMMIT) == ([second, first], 2)
    assert listed(api, sha256=releases[2]["sha256"].upper()) == ([windows], 1)
    assert listed(api, version="3.0") == ([], 0)


def test_release_pages(api, releases):
    assert listed(api, limit=2) == ([releases[3]["id"], releases[2]["id"]], 4)
    assert listed(api, limit=2, offset=3) == ([releases[0]["id"]], 4)


@pytest.mark.parametrize(("query", "message"), [
    ({"git_commit": "abc12"}, "git_commit must be 7 to 64 hexadecimal characters"),
    ({"git_commit": "xyz1234"}, "git_commit must be 7 to 64 hexadecimal characters"),
    ({"sha256": "ab" * 31}, "sha256 must be 64 hexadecimal characters"),
    ({"platform": "beos"}, "platform must be one of"),
    ({"limit": "0"}, "limit must be between 1 and 1000"),
    ({"offset": "-1"}, "offset must be between"),
    ({"from": "yesterday"}, "from must be an ISO 8601 date"),
])
def test_bad_release_filters_are_400(api, query, message):
    assert_error(api.call("GET", "/admin/api/releases", query_string=query), 400, "BAD_REQUEST", message)


def test_the_csv_takes_the_same_filters(api, releases):
    rows = api.call("GET", "/admin/exports/releases.csv", query_string={"git_commit": COMMIT[:10]})
    assert rows.status_code == 200
    assert sorted(line.split(",")[0] for line in rows.get_data(as_text=True).splitlines()[1:]) == sorted(
        release["id"] for release in releases[:2])


# keep_releases on variants

def test_keep_releases_on_create_update_and_get(api, android):
    assert android["keep_releases"] is None
    created = api.create_variant(android["product_id"], platform="linux", display_name="Linux", keep_releases=3)
    assert created["keep_releases"] == 3 and Variant.get_by_id(created["id"]).keep_releases == 3
    changed = api.data("PUT", f"/admin/api/variants/{created['id']}", json={"keep_releases": 1})["variant"]
    assert changed["keep_releases"] == 1
    product = api.data("GET", f"/admin/api/products/{android['product_id']}")
    assert {variant["id"]: variant["keep_releases"] for variant in product["variants"]} == {
        android["id"]: None, created["id"]: 1}
    cleared = api.data("PUT", f"/admin/api/variants/{created['id']}", json={"keep_releases": None})["variant"]
    assert cleared["keep_releases"] is None and Variant.get_by_id(created["id"]).keep_releases is None


@pytest.mark.parametrize(("value", "message"), [
    (0, "keep_releases must be between 1 and"),
    (-3, "keep_releases must be between 1 and"),
    (2**31, "keep_releases must be between 1 and"),
    ("5", "keep_releases must be an integer"),
    (2.5, "keep_releases must be an integer"),
    (True, "keep_releases must be an integer"),
])
def test_bad_keep_releases_are_400(api, android, value, message):
    assert_error(api.call("PUT", f"/admin/api/variants/{android['id']}", json={"keep_releases": value}), 400,
                 "BAD_REQUEST", message)
    assert_error(api.call("POST", f"/admin/api/products/{android['product_id']}/variants",
                          json={"platform": "linux", "display_name": "L", "identifier": "l", "keep_releases": value}),
                 400, "BAD_REQUEST", message)
    assert Variant.get_by_id(android["id"]).keep_releases is None
    assert Variant.select().count() == 1


def test_the_csv_ends_with_the_ci_columns_formula_guarded(api, android):
    api.upload_release(android["id"], APK, branch="=HYPERLINK(1)", git_commit=COMMIT,
                       ci_url="https://ci.example.com/1", source="gitlab")
    header, row = api.call("GET", "/admin/exports/releases.csv").get_data(as_text=True).splitlines()
    assert header.split(",")[-4:] == ["branch", "git_commit", "ci_url", "source"]
    assert row.split(",")[-4:] == ["'=HYPERLINK(1)", COMMIT, "https://ci.example.com/1", "gitlab"]
