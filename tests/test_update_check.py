"""GET /api/update-check: the highest release a device can install (not the last upload), whether it is above
the caller's version or build, by variant or by product and platform, through HTTP with the sample builds."""
import sqlite3

import pytest

from fenfa_lib.models import Event

from helpers import assert_error
from profiles import ipa_with_profile, signed_profile
from shop import ANDROID_SAMPLE

IPHONE_IPA = "ios-iphone-binary-plist-no-icons.ipa"
APP_INFO_APK = "android-appinfodemo-obfuscated-res-adaptive.apk"
APP_INFO_AAB = "android-appinfodemo.aab"
IPHONE_17 = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.5 Mobile/15E148 Safari/604.1")


def check(client, status=200, **params):
    response = client.get("/api/update-check", query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    return response


def answer(client, **params):
    return check(client, **params).json["data"]


def android_variant(api, identifier="com.politedroid", product=None):
    product_id = product["id"] if product else api.create_product()["id"]
    return api.create_variant(product_id, platform="android", identifier=identifier)


def ios_variant(api):
    return api.create_variant(api.create_product()["id"], platform="ios", display_name="iOS",
                              identifier="com.icyleaf.AppInfoDemo")


def upload_apk(api, variant, version, build="1", **fields):
    return api.upload_release(variant["id"], ANDROID_SAMPLE, version=version, build=build, **fields)


def upload_ipa(api, variant, version, kind="enterprise", days=365, **fields):
    ipa = ipa_with_profile(IPHONE_IPA, signed_profile(kind, days=days))
    return api.upload_release(variant["id"], "app.ipa", ipa, version=version, **fields)


def test_latest_is_the_highest_version_not_the_last_upload(api, client):
    variant = android_variant(api)
    highest = upload_apk(api, variant, "1.10.0", "110")
    upload_apk(api, variant, "1.9.0", "190")  # uploaded last, and lower
    data = answer(client, variant=variant["id"], version="1.9.0")
    assert data["update_available"] is True
    assert data["latest"]["id"] == highest["id"]
    assert answer(client, variant=variant["id"], version="1.10.0") == {**data, "update_available": False}


@pytest.mark.parametrize("uploads,client_build,latest_build,update_available", [
    (["100", "41"], "41", "100", True),  # integers, not text: 41 < 100
    (["100", "41"], "100", "100", False),
    (["41", "100"], "99", "100", True),
    (["9", "10"], "10", "10", False),
])
def test_integer_builds_compare_as_integers(api, client, uploads, client_build, latest_build, update_available):
    variant = android_variant(api)
    for build in uploads:
        upload_apk(api, variant, "1.0", build)
    data = answer(client, variant=variant["id"], build=client_build)
    assert (data["latest"]["build"], data["update_available"]) == (latest_build, update_available)


def test_a_pre_release_sorts_before_the_plain_release(api, client):
    variant = android_variant(api)
    final = upload_apk(api, variant, "2.0.0")
    upload_apk(api, variant, "2.0.0-rc.10")
    data = answer(client, variant=variant["id"], version="2.0.0-rc.2")
    assert (data["latest"]["id"], data["update_available"]) == (final["id"], True)
    assert answer(client, variant=variant["id"], version="2.0.0")["update_available"] is False


def test_version_first_then_build(api, client):
    variant = android_variant(api)
    upload_apk(api, variant, "1.2.0", "42")
    assert answer(client, variant=variant["id"], version="1.2.0", build="41")["update_available"] is True
    assert answer(client, variant=variant["id"], version="1.2.0", build="42")["update_available"] is False
    assert answer(client, variant=variant["id"], version="1.3.0", build="1")["update_available"] is False


def test_the_answer_is_the_public_release_with_its_links(api, client):
    variant = android_variant(api)
    release = upload_apk(api, variant, "3.1", changelog="Faster")
    response = check(client, variant=variant["id"], build="0")
    assert response.headers["Cache-Control"] == "no-cache"
    latest = response.json["data"]["latest"]
    page = client.get("/api/products/demo").json["data"]
    shown = next(shown for shown in page["variants"][0]["releases"] if shown["id"] == release["id"])
    public = {key: value for key, value in shown.items() if key not in ("installable", "reason", "urls")}
    assert {key: value for key, value in latest.items() if not key.endswith("_url") or key == "icon_url"} == public
    assert (latest["version"], latest["changelog"], latest["variant_id"]) == ("3.1", "Faster", variant["id"])
    assert latest["download_url"] == f"http://localhost/d/{release['id']}"
    assert latest["page_url"] == f"http://localhost/products/demo?r={release['id']}"
    assert "ios_install_url" not in latest and "storage" not in latest and "provisioning_profile" not in latest


def test_an_aab_is_never_latest(api, client):
    variant = android_variant(api, "com.icyleaf.appinfodemo")
    apk = api.upload_release(variant["id"], APP_INFO_APK, version="1.0")
    api.upload_release(variant["id"], APP_INFO_AAB, version="2.0")
    assert answer(client, variant=variant["id"], version="0.1")["latest"]["id"] == apk["id"]


def test_a_variant_with_only_a_bundle_has_nothing_to_install(api, client):
    """The update check is for installing, and the install verdict says no device installs an .aab."""
    variant = android_variant(api, "com.icyleaf.appinfodemo")
    api.upload_release(variant["id"], APP_INFO_AAB, version="2.0")
    assert answer(client, variant=variant["id"], version="1.0") == {"update_available": False, "latest": None}


def test_a_variant_without_releases_has_no_update(api, client):
    variant = android_variant(api)
    assert answer(client, variant=variant["id"], build="1") == {"update_available": False, "latest": None}


@pytest.mark.parametrize("kind,days", [("enterprise", -3), ("app-store", 365)], ids=["expired", "app-store"])
def test_an_ios_build_that_cannot_install_is_not_offered(api, client, kind, days):
    variant = ios_variant(api)
    good = upload_ipa(api, variant, "1.0")
    upload_ipa(api, variant, "2.0", kind=kind, days=days)
    data = answer(client, variant=variant["id"], version="0.9")
    assert (data["latest"]["id"], data["update_available"]) == (good["id"], True)
    assert data["latest"]["ios_install_url"] == ("itms-services://?action=download-manifest&url=http%3A%2F%2F"
                                                 f"localhost%2Fios%2F{good['id']}%2Fmanifest.plist")
    assert answer(client, variant=variant["id"], version="1.0")["update_available"] is False


def test_a_build_for_a_newer_ios_than_the_user_agent_names_is_not_offered(api, client):
    variant = ios_variant(api)
    older = upload_ipa(api, variant, "1.0", min_os="15.0")
    newer = upload_ipa(api, variant, "2.0", min_os="18.0")
    assert answer(client, variant=variant["id"], version="0.1")["latest"]["id"] == newer["id"]  # no OS named
    response = client.get("/api/update-check", query_string={"variant": variant["id"], "version": "0.1"},
                          headers={"User-Agent": IPHONE_17})
    assert response.json["data"]["latest"]["id"] == older["id"]


def test_a_channel_narrows_the_releases(api, client):
    variant = android_variant(api)
    stable = upload_apk(api, variant, "1.0", channel="stable")
    beta = upload_apk(api, variant, "1.1-beta", channel="beta")
    assert answer(client, variant=variant["id"], version="1.0")["latest"]["id"] == beta["id"]
    assert answer(client, variant=variant["id"], version="1.0", channel="beta")["update_available"] is True
    data = answer(client, variant=variant["id"], version="1.0", channel="stable")
    assert (data["latest"]["id"], data["update_available"]) == (stable["id"], False)
    assert answer(client, variant=variant["id"], version="1.0", channel="nightly")["latest"] is None


def test_by_product_and_platform_the_highest_of_its_variants(api, client):
    phone = android_variant(api)
    tablet = android_variant(api, "com.icyleaf.appinfodemo", product={"id": phone["product_id"]})
    upload_apk(api, phone, "1.5")
    highest = api.upload_release(tablet["id"], APP_INFO_APK, version="1.6")
    data = answer(client, product="demo", platform="android", version="1.5")
    assert (data["latest"]["id"], data["update_available"]) == (highest["id"], True)
    assert answer(client, variant=phone["id"], platform="android", version="1.5")["update_available"] is False


def test_nothing_is_written(api, client, data_dir):
    variant = android_variant(api)
    upload_apk(api, variant, "1.0")
    events = Event.select().count()
    with sqlite3.connect(data_dir / "fenfa.db") as watcher:
        before = watcher.execute("PRAGMA data_version").fetchone()[0]
        for _ in range(3):
            answer(client, variant=variant["id"], version="0.1")
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == before  # no other connection committed
    assert Event.select().count() == events


@pytest.mark.parametrize("params,message", [
    ({}, "version or build is required"),
    ({"version": "", "build": " "}, "version or build is required"),
    ({"variant": "{variant}"}, "version or build is required"),
    ({"build": "1"}, "variant, or product and platform, is required"),
    ({"product": "demo", "build": "1"}, "platform is required with product"),
    ({"variant": "{variant}", "product": "demo", "build": "1"}, "not both"),
    ({"product": "demo", "platform": "symbian", "build": "1"}, "platform must be one of"),
    ({"variant": "{variant}", "version": "1" * 65}, "version must be at most 64 characters"),
    ({"variant": "{variant}", "build": "4\x001"}, "build must not contain control characters"),
    ({"variant": "{variant}", "build": "1", "channel": "c" * 33}, "channel must be at most 32 characters"),
    ({"variant": "v" * 65, "build": "1"}, "variant must be at most 64 characters"),
], ids=range(11))
def test_bad_parameters_are_400(api, client, params, message):
    variant = android_variant(api)
    params = {name: value.format(variant=variant["id"]) for name, value in params.items()}
    assert_error(check(client, 400, **params), 400, "BAD_REQUEST", message)


def unpublish(api, app_id):
    api.data("PUT", f"/admin/api/apps/{app_id}/unpublish")


@pytest.mark.parametrize("case", ["unknown variant", "unpublished variant", "unpublished product", "unknown product",
                                  "no variant of the platform", "variant of another platform"])
def test_unknown_or_unpublished_is_404(api, client, case):
    variant = android_variant(api)
    upload_apk(api, variant, "1.0")
    params = {"variant": variant["id"], "build": "1"}
    if case == "unknown variant":
        params["variant"] = "var_0000000000000000"
    elif case == "unpublished variant":
        unpublish(api, variant["id"])
    elif case == "unpublished product":
        unpublish(api, variant["product_id"])
        params = {"product": "demo", "platform": "android", "build": "1"}
    elif case == "unknown product":
        params = {"product": "nope", "platform": "android", "build": "1"}
    elif case == "no variant of the platform":
        params = {"product": "demo", "platform": "ios", "build": "1"}
    else:
        params["platform"] = "ios"
    assert_error(check(client, 404, **params), 404, "NOT_FOUND")
