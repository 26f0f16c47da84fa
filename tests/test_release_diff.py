"""GET /admin/api/releases/:id/diff and the panel's page of it: each compared field, from real samples where
they differ (signers, profiles, entitlements, package sizes) and from built APKs where they do not."""
import re
import zipfile
from datetime import timedelta

import pytest
from test_admin_pages import sign_in

from fenfa_lib import release_diff as release_diff_module
from fenfa_lib.models import Release, utcnow

from browser import save_screenshot
from corpus import require_samples
from helpers import ADMIN_TOKEN, AXML_STRING, UPLOAD_TOKEN, assert_error, make_apk, manifest
from profiles import TEAM, ipa_with_profile, signed_profile

IPA = "ios-iphone-binary-plist-no-icons.ipa"  # com.icyleaf.AppInfoDemo, a development profile of 100 devices
IPA_ID = "com.icyleaf.AppInfoDemo"
SIGNERS = {  # real APKs' JAR signatures, and the SHA-256 of their signer certificates
    "android-a2dpvol-localized-label.apk": "1e3bf46f964d494c9094cbf1a7ebec99b63d4acf6ae7519287d94faf5ea6871b",
    "android-jamendo-minsdk4.apk": "ebd3cc3f8c36a4503838b0610103c8b919245c3ee2c4600f6646502e3875a4ac",
}
A2DP, JAMENDO = SIGNERS


def built_apk(tmp_path, version_code, signed_like=A2DP, permissions=(), min_sdk=21, target_sdk=34, abis=()):
    """An APK of com.example.demo carrying the JAR signature of the real sample `signed_like`."""
    sample = zipfile.ZipFile(require_samples() / signed_like)
    members = {name: sample.read(name) for name in sample.namelist() if re.fullmatch(r"META-INF/[^/]+\.(SF|RSA)", name)}
    members.update({f"lib/{abi}/libdemo.so": b"\x7fELF" for abi in abis})
    extra = [("uses-permission", [("name", AXML_STRING, permission)]) for permission in permissions]
    body = manifest(package="com.example.demo", version_name=f"1.{version_code}", version_code=version_code,
                    min_sdk=min_sdk, target_sdk=target_sdk, extra=extra)
    return make_apk(tmp_path / f"demo-{version_code}.apk", body, members).read_bytes()


@pytest.fixture
def android(api):
    return api.create_variant(api.create_product()["id"])["id"]


@pytest.fixture
def ios(api):
    product = api.create_product(name="AppInfo", slug="appinfo")
    return api.create_variant(product["id"], platform="ios", display_name="iOS", identifier=IPA_ID)["id"]


def changes_of(data):
    return {(change["field"], change.get("key")): (change["before"], change["after"]) for change in data["changes"]}


def release_diff(api, release_id, status=200, **args):
    return api.data("GET", f"/admin/api/releases/{release_id}/diff", status, query_string=args)


def test_a_changed_signer_is_a_warning_and_a_change(api, android, tmp_path):
    first = api.upload_release(android, "demo.apk", built_apk(tmp_path, 1, signed_like=A2DP))
    second = api.upload_release(android, "demo.apk", built_apk(tmp_path, 2, signed_like=JAMENDO))
    data = release_diff(api, second["id"])
    assert (data["from"]["id"], data["to"]["id"]) == (first["id"], second["id"])
    assert changes_of(data)[("signer_sha256", None)] == (SIGNERS[A2DP], SIGNERS[JAMENDO])
    assert changes_of(data)[("build", None)] == ("1", "2")
    [warning] = data["warnings"]
    assert "signing certificate changed" in warning and "cannot update it in place" in warning
    assert SIGNERS[A2DP] in warning and SIGNERS[JAMENDO] in warning


def test_the_same_signer_in_an_apk_and_its_bundle_is_no_warning(api):
    """The real APK and AAB of appinfodemo: one signer, one manifest, two sizes."""
    variant = api.create_variant(api.create_product()["id"], identifier="com.icyleaf.appinfodemo")["id"]
    apk = api.upload_release(variant, "android-appinfodemo-obfuscated-res-adaptive.apk")
    aab = api.upload_release(variant, "android-appinfodemo.aab")
    data = release_diff(api, aab["id"])
    assert data["warnings"] == [] and data["added"] == {} and data["removed"] == {}
    assert changes_of(data) == {("size_bytes", None): (apk["size_bytes"], aab["size_bytes"])}
    assert data["changes"][0]["delta"] == aab["size_bytes"] - apk["size_bytes"] < 0


def test_permissions_abis_and_sdk_levels_are_compared(api, android, tmp_path):
    first = built_apk(tmp_path, 1, permissions=["android.permission.INTERNET", "android.permission.CAMERA"],
                      min_sdk=21, target_sdk=33, abis=["armeabi-v7a", "x86"])
    second = built_apk(tmp_path, 2, permissions=["android.permission.INTERNET", "android.permission.READ_CONTACTS"],
                       min_sdk=26, target_sdk=34, abis=["arm64-v8a", "armeabi-v7a"])
    api.upload_release(android, "demo.apk", first)
    release = api.upload_release(android, "demo.apk", second)
    data = release_diff(api, release["id"])
    assert data["added"] == {"native_abis": ["arm64-v8a"], "permissions": ["android.permission.READ_CONTACTS"]}
    assert data["removed"] == {"native_abis": ["x86"], "permissions": ["android.permission.CAMERA"]}
    changes = changes_of(data)
    assert (changes[("min_os", None)], changes[("target_os", None)]) == (("21", "26"), ("33", "34"))
    assert ("signer_sha256", None) not in changes
    assert data["warnings"] == ["the minimum OS rose from Android API 21 to Android API 26: devices below Android "
                                "API 26 cannot install this build"]


@pytest.mark.parametrize(("older", "newer", "warned"), [("21", "26", True), ("26", "21", False), ("21", "21", False)])
def test_only_a_raised_minimum_os_is_a_warning(api, android, tmp_path, older, newer, warned):
    api.upload_release(android, "demo.apk", built_apk(tmp_path, 1, min_sdk=int(older)))
    release = api.upload_release(android, "demo.apk", built_apk(tmp_path, 2, min_sdk=int(newer)))
    assert any("minimum OS rose" in warning for warning in release_diff(api, release["id"])["warnings"]) is warned


def test_devices_entitlements_and_profile_from_a_real_profile_to_a_new_one(api, ios):
    """The sample's own development profile (100 devices, expired, keychain groups) to one made here."""
    real = api.upload_release(ios, IPA)
    real_devices = Release.get_by_id(real["id"]).profiles[0].devices
    kept = real_devices[:2]
    content = ipa_with_profile(IPA, signed_profile("development", devices=[*kept, "00008030-00AA"], days=365))
    release = api.upload_release(ios, IPA, content)
    data = release_diff(api, release["id"])
    assert data["added"]["devices"] == ["00008030-00AA"]
    assert data["removed"]["devices"] == real_devices[2:]
    assert set(data["removed"]["entitlements"]) == {"keychain-access-groups", "com.apple.developer.team-identifier"}
    assert "entitlements" not in data["added"]
    changes = changes_of(data)
    assert changes[("entitlements", "application-identifier")] == ("5PJA6N5A3B.*", f"{TEAM}.*")
    assert changes[("profile_expires_at", None)][0] == "2017-07-27T09:44:49Z"
    assert ("profile_type", None) not in changes
    assert data["warnings"] == ["98 devices are no longer in the provisioning profile: they cannot install this "
                                "build"]


@pytest.mark.parametrize(("days", "expected"), [
    (5, "expires on {date} (in less than 14 days)"), (-1, "expired on {date}"), (30, None)])
def test_an_expiring_or_expired_profile_is_a_warning(api, ios, days, expected):
    api.upload_release(ios, IPA, ipa_with_profile(IPA, signed_profile("ad-hoc", devices=["A"], days=400)))
    release = api.upload_release(ios, IPA, ipa_with_profile(IPA, signed_profile("ad-hoc", devices=["A"], days=days)))
    warnings = release_diff(api, release["id"])["warnings"]
    if expected is None:
        assert warnings == []
    else:
        date = f"{utcnow() + timedelta(days=days):%Y-%m-%d}"
        assert [expected.format(date=date) in warning for warning in warnings] == [True]


def test_a_profile_type_change_is_a_warning(api, ios):
    api.upload_release(ios, IPA, ipa_with_profile(IPA, signed_profile("ad-hoc", devices=["A"])))
    release = api.upload_release(ios, IPA, ipa_with_profile(IPA, signed_profile("app-store")))
    data = release_diff(api, release["id"])
    assert changes_of(data)[("profile_type", None)] == ("ad-hoc", "app-store")
    assert data["removed"]["devices"] == ["A"]
    assert data["warnings"] == [
        "the provisioning profile changed from ad-hoc to app-store: who can install the build changes with it",
        "1 devices are no longer in the provisioning profile: they cannot install this build"]


def test_the_default_is_the_previous_upload_and_against_names_another(api, android, tmp_path):
    """The previous release by upload time, not by version: a hotfix of an older line compares with the upload
    before it."""
    newer_line = api.upload_release(android, "demo.apk", built_apk(tmp_path, 20))
    older_line = api.upload_release(android, "demo.apk", built_apk(tmp_path, 3))
    third = api.upload_release(android, "demo.apk", built_apk(tmp_path, 21))
    assert release_diff(api, older_line["id"])["from"]["id"] == newer_line["id"]
    assert release_diff(api, third["id"])["from"]["id"] == older_line["id"]
    against = release_diff(api, third["id"], against=newer_line["id"])
    assert (against["from"]["id"], changes_of(against)[("build", None)]) == (newer_line["id"], ("20", "21"))
    assert changes_of(release_diff(api, third["id"], against=third["id"])) == {}


def test_a_release_without_the_parsed_fields_is_not_said_to_have_none(api, android, tmp_path):
    """A release uploaded before Fenfa read permissions and signers: nothing is added, nothing changes signer."""
    first = api.upload_release(android, "demo.apk", built_apk(tmp_path, 1, permissions=["android.permission.CAMERA"]))
    Release.update(metadata={"package_type": "apk"}).where(Release.id == first["id"]).execute()
    release = api.upload_release(android, "demo.apk", built_apk(tmp_path, 2, signed_like=JAMENDO,
                                                                permissions=["android.permission.CAMERA"]))
    data = release_diff(api, release["id"])
    assert (data["added"], data["removed"], data["warnings"]) == ({}, {}, [])
    assert {field for field, _ in changes_of(data)} <= {"version", "build", "size_bytes", "target_os"}


def test_the_first_release_and_bad_references_are_refused(api, android, ios, tmp_path):
    first = api.upload_release(android, "demo.apk", built_apk(tmp_path, 1))
    other = api.upload_release(ios, IPA)
    path = f"/admin/api/releases/{first['id']}/diff"
    assert_error(api.call("GET", path), 404, "NOT_FOUND", "first release of its variant")
    assert_error(api.call("GET", path, query_string={"against": other["id"]}), 400, "BAD_REQUEST", "another variant")
    assert_error(api.call("GET", path, query_string={"against": "rel_0000000000000000"}), 404, "NOT_FOUND",
                 "release rel_0000000000000000 not found")
    assert_error(api.call("GET", path, query_string={"against": "r" * 65}), 400, "BAD_REQUEST", "at most 64")
    assert_error(api.call("GET", "/admin/api/releases/rel_0000000000000000/diff"), 404, "NOT_FOUND")


@pytest.mark.parametrize(("token", "status"), [("", 401), (UPLOAD_TOKEN, 403), ("wrong", 401)])
def test_only_admins_see_a_diff(api, android, tmp_path, token, status):
    api.upload_release(android, "demo.apk", built_apk(tmp_path, 1))
    release = api.upload_release(android, "demo.apk", built_apk(tmp_path, 2))
    response = api.client.get(f"/admin/api/releases/{release['id']}/diff",
                              headers={"X-Auth-Token": token} if token else {})
    assert response.status_code == status
    assert "signer" not in response.get_data(as_text=True)


def test_parsed_metadata_is_kept_and_shown_to_admins_only(api, client, android, tmp_path):
    api.upload_release(android, "demo.apk", built_apk(tmp_path, 1, permissions=["android.permission.CAMERA"]))
    product_id = api.data("GET", "/admin/api/products")["items"][0]["id"]
    [listed] = api.data("GET", f"/admin/api/products/{product_id}")["variants"][0]["releases"]
    assert listed["metadata"]["signer_sha256"] == SIGNERS[A2DP]
    assert listed["metadata"]["permissions"] == ["android.permission.CAMERA"]
    public = client.get("/api/products/demo").get_data(as_text=True)
    assert "1." in public and SIGNERS[A2DP] not in public and "permission" not in public


def test_desktop_metadata_is_kept(api):
    variant = api.create_variant(api.create_product()["id"], platform="linux", display_name="Linux",
                                 identifier="hello")["id"]
    api.upload_release(variant, "desktop/linux-deb-hello_2.10-3_amd64.deb")
    metadata = Release.get().metadata
    assert (metadata["package_type"], metadata["arch"], metadata["arch_family"]) == ("deb", "amd64", "x86_64")


def test_the_expiry_warning_comes_with_the_clock(api, ios, monkeypatch):
    """A profile expiring in 20 days: no warning today, a warning a week later."""
    api.upload_release(ios, IPA, ipa_with_profile(IPA, signed_profile("ad-hoc", devices=["A"], days=20)))
    release = api.upload_release(ios, IPA, ipa_with_profile(IPA, signed_profile("ad-hoc", devices=["A"], days=20)))
    assert release_diff(api, release["id"])["warnings"] == []
    week_later = utcnow() + timedelta(days=7)
    monkeypatch.setattr(release_diff_module, "utcnow", lambda: week_later)
    [warning] = release_diff(api, release["id"])["warnings"]
    assert "in less than 14 days" in warning


def panel_page(client, release_id, language="en", **args):
    client.set_cookie("fenfa_lang", language, path="/admin")
    return client.get(f"/admin/releases/{release_id}/changes", query_string=args)


@pytest.mark.parametrize(("language", "title", "warning"), [
    ("en", "Release changes", "the Android signing certificate changed"), ("zh", "版本变化", "Android 签名证书已变更")])
def test_the_panel_shows_the_changes_with_the_warnings(client, api, android, tmp_path, language, title, warning):
    first = api.upload_release(android, "demo.apk", built_apk(tmp_path, 1, permissions=["android.permission.CAMERA"]))
    second = api.upload_release(android, "demo.apk", built_apk(tmp_path, 2, signed_like=JAMENDO))
    sign_in(client, ADMIN_TOKEN)
    product = client.get(f"/admin/products/{Release.get_by_id(second['id']).variant.product_id}")
    links = re.findall(r'href="(/admin/releases/[^"]+/changes)"', product.get_data(as_text=True))
    assert links == [f"/admin/releases/{second['id']}/changes"]  # the first release has nothing before it
    page = panel_page(client, second["id"], language).get_data(as_text=True)
    assert title in page and warning in page
    assert 'class="admin-warning" data-code="signer_changed"' in page
    assert SIGNERS[JAMENDO] in page and "android.permission.CAMERA" in page
    assert f'<option value="{first["id"]}" selected>' in page


def test_the_panel_page_of_a_first_release_is_a_404_page(client, api, android, tmp_path):
    first = api.upload_release(android, "demo.apk", built_apk(tmp_path, 1))
    sign_in(client, ADMIN_TOKEN)
    response = panel_page(client, first["id"])
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "first release of its variant" in response.get_data(as_text=True)
    assert panel_page(client.application.test_client(), first["id"]).status_code == 303


@pytest.mark.parametrize(("device", "language", "link", "signer_warning"), [
    ("windows", "zh", "与上一个构建相比的变化", "签名证书已变更"),
    ("iphone", "en", "Changes since the previous build", "signing certificate changed")])
def test_the_panel_link_opens_the_changes_in_a_browser(live_server, open_as, api, android, tmp_path, device, language,
                                                       link, signer_warning):
    api.upload_release(android, "demo.apk", built_apk(tmp_path, 1, min_sdk=21))
    api.upload_release(android, "demo.apk", built_apk(tmp_path, 2, min_sdk=26, signed_like=JAMENDO))
    view = open_as(device)
    page = view.page
    page.goto(f"{live_server}/admin/language/{language}")
    page.locator("#token").fill(ADMIN_TOKEN)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/admin/products")
    page.get_by_role("link", name="Demo App").first.click()
    page.get_by_role("link", name=link).click()
    warnings = page.locator(".diff-warnings li.admin-warning")
    assert warnings.count() == 2
    assert signer_warning in warnings.nth(0).inner_text() and "Android API 26" in warnings.nth(1).inner_text()
    assert page.locator("tr[data-field=signer_sha256]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    save_screenshot(page, tmp_path, f"admin-{language}-{device}-release-changes")
    assert view.errors == []
