"""Uploads from CI (SPEC §11): upload tokens smart-upload into existing variants, the CI fields, skip_duplicate, and
the richer upload answer with its warnings."""
import hashlib
from urllib.parse import urlencode

import pytest

from fenfa_lib import uploads
from fenfa_lib.models import Event, Product, Release, Variant

from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error, assert_nothing_left, stored_files
from live import call as live_call
from live import live_fenfa
from profiles import ipa_with_profile, signed_profile

SMART = "/admin/api/smart-upload"
APK = "android-politedroid-minsdk3-tiny.apk"
APK_ID = "com.politedroid"
IPA = "ios-iphone-binary-plist-no-icons.ipa"
IPA_ID = "com.icyleaf.AppInfoDemo"
CI = {"branch": "feature/login-ü", "git_commit": "0123456789ABCDEFabcdef0123456789abcdef01",
      "ci_url": "https://ci.example.com/jobs/42?attempt=1", "source": "github-actions"}
EXE = b"MZ" + bytes(range(256)) * 8
DEVICES = ["00008030-001A2B3C4D5E6F70", "00008030-001A2B3C4D5E6F71"]


@pytest.fixture
def android(api):
    return api.create_variant(api.create_product()["id"], identifier=APK_ID)


@pytest.fixture
def ios(api):
    return api.create_variant(api.create_product(slug="ios")["id"], platform="ios", identifier=IPA_ID)


def put(api, variant_id, file_name, content, **fields):
    return api.call("PUT", f"/upload/{file_name}?{urlencode({'variant_id': variant_id, **fields})}",
                    token=UPLOAD_TOKEN, data=content, content_type="application/octet-stream")


def answer_of(response, status=201):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json["data"]


# Upload tokens and smart upload.

def test_an_upload_token_smart_uploads_into_the_variant_the_package_names(api, android):
    data = answer_of(api.upload(None, APK, path=SMART, token=UPLOAD_TOKEN))
    assert data["app"]["variant_id"] == android["id"]
    assert Release.get_by_id(data["release"]["id"]).variant_id == android["id"]


def test_an_upload_token_may_parse(api, android):
    response = api.upload(None, APK, path="/admin/api/parse-app", token=UPLOAD_TOKEN)
    assert answer_of(response, 200)["variant_id"] == android["id"]
    assert Release.select().count() == 0


def test_an_upload_tokens_smart_upload_of_a_new_app_is_403_naming_what_to_create(api, data_dir):
    response = api.upload(None, APK, path=SMART, token=UPLOAD_TOKEN)
    assert_error(response, 403, "FORBIDDEN", f"platform android and identifier {APK_ID}")
    assert (Product.select().count(), Variant.select().count()) == (0, 0)
    assert_nothing_left(data_dir)


def test_an_admins_smart_upload_still_creates_the_product(api):
    data = answer_of(api.upload(None, APK, path=SMART, token=ADMIN_TOKEN))
    assert Variant.get_by_id(data["app"]["variant_id"]).identifier == APK_ID


def test_an_upload_tokens_smart_upload_of_a_desktop_file_still_needs_a_variant(api, data_dir):
    assert_error(api.upload(None, "setup.exe", EXE, path=SMART, token=UPLOAD_TOKEN), 400, "BAD_REQUEST",
                 "variant_id is required")
    assert_nothing_left(data_dir)


# CI fields.

def stored_ci(release_id):
    release = Release.get_by_id(release_id)
    return {"branch": release.branch, "git_commit": release.git_commit, "ci_url": release.ci_url,
            "source": release.source}


EXPECTED_CI = {**CI, "git_commit": CI["git_commit"].lower()}


def test_ci_fields_of_a_form_upload_are_stored_and_answered(api, android):
    release = answer_of(api.upload(android["id"], APK, **CI))["release"]
    assert release["ci"] == EXPECTED_CI
    assert stored_ci(release["id"]) == EXPECTED_CI


def test_ci_fields_of_a_put_are_query_parameters(api, android):
    release = answer_of(put(api, android["id"], "app.apk", (require_samples() / APK).read_bytes(), **CI))["release"]
    assert stored_ci(release["id"]) == EXPECTED_CI


def test_ci_fields_of_a_smart_upload(api, android):
    release = answer_of(api.upload(None, APK, path=SMART, token=UPLOAD_TOKEN, **CI))["release"]
    assert stored_ci(release["id"]) == EXPECTED_CI


def test_without_ci_fields_they_are_empty(api, android):
    release = answer_of(api.upload(android["id"], APK))["release"]
    assert release["ci"] == {"branch": "", "git_commit": "", "ci_url": "", "source": ""}


def test_admins_see_ci_fields_and_testers_do_not(api, client, android):
    release_id = answer_of(api.upload(android["id"], APK, **CI))["release"]["id"]
    admin_view = api.data("GET", f"/admin/api/products/{android['product_id']}")
    assert admin_view["variants"][0]["releases"][0]["ci"] == EXPECTED_CI
    public = client.get("/api/products/demo").get_data(as_text=True)
    assert release_id in public and CI["ci_url"] not in public and "feature/login" not in public


BAD_FIELDS = [
    ({"branch": "b" * 201}, "branch must be at most 200 characters"),
    ({"branch": "main\x00"}, "branch must be printable"),
    ({"git_commit": "abc123"}, "git_commit must be 7 to 64 hexadecimal characters"),
    ({"git_commit": "abcdefg"}, "git_commit must be 7 to 64 hexadecimal characters"),
    ({"git_commit": "a" * 65}, "git_commit must be at most 64 characters"),
    ({"git_commit": "abc 1234"}, "git_commit must be 7 to 64 hexadecimal characters"),
    ({"ci_url": "ftp://ci.example.com/job"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "javascript:alert(1)"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "https://"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "https://ci.example.com/a b"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "https://ci.example.com:99999/"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "https://[::1/"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "ci.example.com/job/1"}, "ci_url must be an http:// or https:// URL"),
    ({"ci_url": "https://ci.example.com/" + "a" * 2048}, "ci_url must be at most 2048 characters"),
    ({"source": "s" * 33}, "source must be at most 32 characters"),
    ({"source": "github\nactions"}, "source must be printable"),
    ({"skip_duplicate": "yes"}, "skip_duplicate must be true or false"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS)
def test_bad_ci_fields_are_400_and_leave_nothing(api, android, data_dir, fields, message):
    assert_error(api.upload(android["id"], APK, **fields), 400, "BAD_REQUEST", message)
    assert_nothing_left(data_dir)


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS[::3])
def test_bad_ci_query_parameters_of_a_put_are_400_and_leave_nothing(api, android, data_dir, fields, message):
    assert_error(put(api, android["id"], "app.apk", (require_samples() / APK).read_bytes(), **fields), 400,
                 "BAD_REQUEST", message)
    assert_nothing_left(data_dir)


# Duplicates.

def test_skip_duplicate_answers_the_earlier_release_and_stores_nothing(api, android, data_dir):
    first = answer_of(api.upload(android["id"], APK, skip_duplicate="true"))
    files = stored_files(data_dir)
    again = answer_of(api.upload(android["id"], "renamed.apk", (require_samples() / APK).read_bytes(),
                                 skip_duplicate="true", version="9.9", **CI), 200)
    assert again["duplicate"] is True and first["duplicate"] is False
    assert again["release"] == first["release"]
    assert again["urls"] == first["urls"]
    assert Release.select().count() == 1
    assert Event.select().where(Event.type == "upload").count() == 1
    assert stored_files(data_dir) == files
    assert list((data_dir / "tmp").iterdir()) == []


def test_skip_duplicate_on_a_put_and_on_a_smart_upload(api, android):
    content = (require_samples() / APK).read_bytes()
    release_id = answer_of(put(api, android["id"], "app.apk", content))["release"]["id"]
    again = answer_of(put(api, android["id"], "app.apk", content, skip_duplicate="1"), 200)
    assert again["release"]["id"] == release_id
    smart = api.upload(None, APK, path=SMART, token=UPLOAD_TOKEN, skip_duplicate="true")
    assert answer_of(smart, 200)["release"]["id"] == release_id
    assert Release.select().count() == 1


def test_without_skip_duplicate_the_same_file_makes_another_release(api, android):
    first = answer_of(api.upload(android["id"], APK))["release"]
    second = answer_of(api.upload(android["id"], APK, skip_duplicate="false"))["release"]
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]


def test_a_duplicate_is_one_of_the_same_variant(api, android):
    other = api.create_variant(api.create_product(slug="other")["id"], identifier=APK_ID)
    answer_of(api.upload(android["id"], APK, skip_duplicate="true"))
    data = answer_of(api.upload(other["id"], APK, skip_duplicate="true"))
    assert data["duplicate"] is False and data["app"]["variant_id"] == other["id"]


def test_a_duplicate_committed_while_the_file_was_stored_rolls_the_upload_back(api, android, data_dir, monkeypatch):
    """A retry of a slow upload: the first check finds nothing, the release appears before this one commits."""
    first = answer_of(api.upload(android["id"], APK))["release"]
    files = stored_files(data_dir)
    checks = []

    def first_check_misses(variant, sha256):
        checks.append(sha256)
        return None if len(checks) == 1 else Release.get_by_id(first["id"])

    monkeypatch.setattr(uploads, "release_of_file", first_check_misses)
    again = answer_of(api.upload(android["id"], APK, skip_duplicate="true"), 200)
    assert len(checks) == 2
    assert again["duplicate"] is True and again["release"]["id"] == first["id"]
    assert Release.select().count() == 1
    assert Event.select().where(Event.type == "upload").count() == 1
    assert stored_files(data_dir) == files


# The upload answer.

def test_the_answer_describes_the_build(api, ios):
    ipa = ipa_with_profile(IPA, signed_profile("ad-hoc", DEVICES))
    data = answer_of(api.upload(ios["id"], "app.ipa", ipa, **CI))
    release = data["release"]
    assert (release["display_name"], release["identifier"], release["min_os"]) == ("AppInfoDemo", IPA_ID, "9.3")
    assert release["icon_url"] is None
    assert release["profile"]["type"] == "ad-hoc" and release["profile"]["device_count"] == 2
    assert release["profile"]["expires_at"].endswith("Z")
    assert "00008030-001A2B3C4D5E6F70" not in str(data)
    assert release["ci"] == EXPECTED_CI
    assert release["sha256"] == hashlib.sha256(ipa).hexdigest()


def test_an_android_answer_has_no_profile_and_an_icon(api, android):
    release = answer_of(api.upload(android["id"], APK))["release"]
    assert release["profile"] is None
    assert release["icon_url"].endswith(f"/icons/{release['id']}.png")
    assert release["identifier"] == APK_ID and release["display_name"]


def warnings_for(api, variant_id, ipa):
    return answer_of(api.upload(variant_id, "app.ipa", ipa))["warnings"]


@pytest.mark.parametrize(("kind", "days", "expected"), [
    ("ad-hoc", -2, "the provisioning profile expired on"),
    ("ad-hoc", 13, "the provisioning profile expires on"),
    ("app-store", 300, "signed for the App Store"),
])
def test_profile_warnings(api, ios, kind, days, expected):
    profile = signed_profile(kind, DEVICES if kind == "ad-hoc" else (), days=days)
    warnings = warnings_for(api, ios["id"], ipa_with_profile(IPA, profile))
    assert [warning for warning in warnings if warning.startswith("the provisioning") or "App Store" in warning] == [
        next(warning for warning in warnings if expected in warning)]


def test_a_profile_with_weeks_left_and_an_https_domain_warn_of_nothing(api, ios):
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    assert warnings_for(api, ios["id"], ipa_with_profile(IPA, signed_profile("ad-hoc", DEVICES, days=15))) == []


def test_a_plain_http_primary_domain_warns(api, android):
    assert any("https://" in warning for warning in answer_of(api.upload(android["id"], APK))["warnings"])


def test_an_adopted_identifier_warns_once(api, ios):
    Variant.update(identifier="").where(Variant.id == ios["id"]).execute()
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    first = answer_of(api.upload(ios["id"], "app.ipa", ipa_with_profile(IPA, None)))
    assert first["warnings"] == [f"the variant had no identifier and took {IPA_ID} from this package: later uploads "
                                 "to it must have that identifier"]
    assert Variant.get_by_id(ios["id"]).identifier == IPA_ID
    assert answer_of(api.upload(ios["id"], "app.ipa", ipa_with_profile(IPA, None)))["warnings"] == []


def test_a_duplicate_warns_of_its_profile_now(api, ios):
    ipa = ipa_with_profile(IPA, signed_profile("app-store"))
    answer_of(api.upload(ios["id"], "app.ipa", ipa))
    again = answer_of(api.upload(ios["id"], "app.ipa", ipa, skip_duplicate="true"), 200)
    assert any("App Store" in warning for warning in again["warnings"])


# On a real server.

def call(server, method, path, token, body):
    """(status, JSON answer) of a request to the live server; `body` bytes, or a dict sent as JSON."""
    answer = live_call(server.base, method, path, body, token)
    return answer.status, answer.json()


def test_a_live_put_with_ci_fields_and_skip_duplicate(data_dir):
    content = (require_samples() / IPA).read_bytes()
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN) as server:
        _, created = call(server, "POST", "/admin/api/products", ADMIN_TOKEN, {"name": "Live", "slug": "live"})
        _, created = call(server, "POST", f"/admin/api/products/{created['data']['product']['id']}/variants",
                          ADMIN_TOKEN, {"platform": "ios", "display_name": "iOS", "identifier": IPA_ID})
        variant = created["data"]["variant"]
        path = f"/upload/app.ipa?{urlencode({'variant_id': variant['id'], 'skip_duplicate': 'true', **CI})}"
        first = call(server, "PUT", path, UPLOAD_TOKEN, content)
        again = call(server, "PUT", path, UPLOAD_TOKEN, content)
        bad = call(server, "PUT", f"/upload/app.ipa?variant_id={variant['id']}&git_commit=xyz", UPLOAD_TOKEN, content)
    assert first[0] == 201, first
    assert first[1]["data"]["release"]["ci"] == EXPECTED_CI and first[1]["data"]["duplicate"] is False
    assert again[0] == 200 and again[1]["data"]["release"]["id"] == first[1]["data"]["release"]["id"]
    assert bad == (400, {"ok": False, "error": {"code": "BAD_REQUEST",
                                                "message": "git_commit must be 7 to 64 hexadecimal characters"}})
    releases = list((data_dir / "uploads" / variant["product_id"] / variant["id"]).iterdir())
    assert [folder.name for folder in releases] == [first[1]["data"]["release"]["id"]]
