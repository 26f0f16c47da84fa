"""The stable links: /products/:slug/latest/:platform redirects to the download of the highest build (never an
.aab, whatever the device verdicts say), and /products/:slug/latest/ios/manifest.plist is that build's
itms-services manifest; through HTTP with the sample builds and the demo shop."""
import plistlib

import pytest

from fenfa_lib.models import Release

from profiles import ipa_with_profile, signed_profile
from shop import ANDROID_SAMPLE, DEB

IPHONE_IPA = "ios-iphone-binary-plist-no-icons.ipa"
APP_INFO_APK = "android-appinfodemo-obfuscated-res-adaptive.apk"
APP_INFO_AAB = "android-appinfodemo.aab"


def followed(client, path, **params):
    """The release ID the link redirects to."""
    response = client.get(path, query_string=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-cache"
    location = response.headers["Location"]
    assert location.startswith("http://localhost/d/")
    return location.removeprefix("http://localhost/d/")


def manifest(client, slug="demo", **params):
    response = client.get(f"/products/{slug}/latest/ios/manifest.plist", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    assert response.headers["Cache-Control"] == "no-cache"
    item = plistlib.loads(response.data)["items"][0]
    return item["assets"][0]["url"], item["metadata"]["bundle-version"]


def ios_variant(api, product_id):
    return api.create_variant(product_id, platform="ios", display_name="iOS", identifier="com.icyleaf.AppInfoDemo")


def upload_ipa(api, variant, version, days=365):
    ipa = ipa_with_profile(IPHONE_IPA, signed_profile("enterprise", days=days))
    return api.upload_release(variant["id"], "app.ipa", ipa, version=version)


@pytest.mark.parametrize("platform", ["ios", "android", "macos", "windows", "linux"])
def test_every_platform_of_the_shop_links_its_build(client, shop, platform):
    assert followed(client, f"/products/demo/latest/{platform}") == shop["releases"][platform]["id"]


def test_the_link_follows_the_highest_version_not_the_last_upload(api, client, shop):
    variant = shop["variants"]["android"]["id"]
    highest = api.upload_release(variant, ANDROID_SAMPLE, version="1.10", build="1")
    api.upload_release(variant, ANDROID_SAMPLE, version="1.9", build="2")
    assert followed(client, "/products/demo/latest/android") == highest["id"]
    higher = api.upload_release(variant, ANDROID_SAMPLE, version="1.10.1-rc1", build="3")
    assert followed(client, "/products/demo/latest/android") == higher["id"]


def test_the_link_downloads_the_build_and_counts_only_when_followed(api, client, shop):
    release_id = followed(client, "/products/demo/latest/linux")
    assert Release.get_by_id(release_id).download_count == 0
    assert client.get(f"/d/{release_id}").data == DEB
    assert Release.get_by_id(release_id).download_count == 1


def test_an_aab_is_never_linked(api, client):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="android", identifier="com.icyleaf.appinfodemo")
    apk = api.upload_release(variant["id"], APP_INFO_APK, version="1.0")
    api.upload_release(variant["id"], APP_INFO_AAB, version="2.0")
    assert followed(client, "/products/demo/latest/android") == apk["id"]


def test_a_product_with_only_bundles_has_no_android_link(api, client):
    variant = api.create_variant(api.create_product()["id"], platform="android", identifier="com.icyleaf.appinfodemo")
    api.upload_release(variant["id"], APP_INFO_AAB)
    response = client.get("/products/demo/latest/android")
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert "has no android build" in response.get_data(as_text=True)


def test_device_verdicts_are_not_the_links_business(api, client):
    """The highest iOS build is linked though its profile expired: the page, not the link, says why it fails."""
    variant = ios_variant(api, api.create_product()["id"])
    upload_ipa(api, variant, "1.0")
    expired = upload_ipa(api, variant, "2.0", days=-3)
    assert followed(client, "/products/demo/latest/ios") == expired["id"]
    assert manifest(client) == (f"http://localhost/d/{expired['id']}", "2.0")


def test_one_manifest_link_lasts_across_builds(api, client):
    variant = ios_variant(api, api.create_product()["id"])
    first = upload_ipa(api, variant, "1.0")
    assert manifest(client) == (f"http://localhost/d/{first['id']}", "1.0")
    second = upload_ipa(api, variant, "1.1")
    assert manifest(client) == (f"http://localhost/d/{second['id']}", "1.1")


def test_variant_and_channel_narrow_the_link(api, client, shop):
    phone = shop["variants"]["android"]
    tablet = api.create_variant(shop["product"]["id"], platform="android", identifier="com.icyleaf.appinfodemo")
    beta = api.upload_release(tablet["id"], APP_INFO_APK, version="9.0", channel="beta")
    assert followed(client, "/products/demo/latest/android") == beta["id"]
    assert followed(client, "/products/demo/latest/android", variant=phone["id"]) == shop["releases"]["android"]["id"]
    assert followed(client, "/products/demo/latest/android", channel="beta") == beta["id"]
    ios_beta = api.upload_release(shop["variants"]["ios"]["id"], "app.ipa",
                                  ipa_with_profile("ios-uncrackable2-xml-plist-cgbi-icons.ipa",
                                                   signed_profile("enterprise")), version="0.1", channel="beta")
    assert manifest(client)[0] == f"http://localhost/d/{shop['releases']['ios']['id']}"
    assert manifest(client, channel="beta")[0] == f"http://localhost/d/{ios_beta['id']}"


@pytest.mark.parametrize("path,params,status", [
    ("/products/nope/latest/android", {}, 404),
    ("/products/demo/latest/symbian", {}, 404),
    ("/products/demo/latest/android", {"channel": "nightly"}, 404),
    ("/products/demo/latest/android", {"variant": "var_0000000000000000"}, 404),
    ("/products/demo/latest/android", {"variant": "{ios}"}, 404),  # a variant of another platform
    ("/products/demo/latest/android", {"channel": "c" * 33}, 400),
    ("/products/nope/latest/ios/manifest.plist", {}, 404),
    ("/products/demo/latest/ios/manifest.plist", {"variant": "{android}"}, 404),
    ("/products/demo/latest/ios/manifest.plist", {"channel": "nightly"}, 404),
], ids=range(9))
def test_errors_are_pages_like_the_product_page(client, shop, path, params, status):
    params = {name: value.format(**{platform: variant["id"] for platform, variant in shop["variants"].items()})
              for name, value in params.items()}
    response = client.get(path, query_string=params)
    assert (response.status_code, response.mimetype) == (status, "text/html")
    assert "Location" not in response.headers


@pytest.mark.parametrize("what", ["product", "variant"])
def test_unpublished_builds_are_not_linked(api, client, shop, what):
    app_id = shop["product"]["id"] if what == "product" else shop["variants"]["android"]["id"]
    api.data("PUT", f"/admin/api/apps/{app_id}/unpublish")
    assert client.get("/products/demo/latest/android").status_code == 404
