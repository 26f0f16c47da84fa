"""POST /upload: real sample packages in, rows and files out; bad input leaves nothing behind."""
import hashlib
import json
import os
import time

import pytest

from fenfa_lib.models import Event, ProvisioningProfile, Release, Variant

from corpus import require_samples, sample_names
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api, assert_error, assert_nothing_left, stored_files

# Every build in the corpus (not the provisioning profiles or the invalid packages): apps and desktop files.
APP_SAMPLES = sample_names("*.ipa") + sample_names("*.apk") + sample_names("*.aab")
DESKTOP_SAMPLES = [name for name in sample_names("desktop/*") if not name.endswith((".md", ".json"))]


def expected_metadata(name):
    """A corpus file's entry in the expected metadata beside it (desktop/ has a file of its own)."""
    sample = require_samples() / name
    metadata_file = "expected-metadata-desktop.json" if name in DESKTOP_SAMPLES else "expected-metadata.json"
    return json.loads((sample.parent / metadata_file).read_text())[sample.name]


@pytest.fixture
def variant_for(api):
    product = api.create_product()

    def make(platform, identifier=""):
        return api.create_variant(product["id"], platform=platform, identifier=identifier or f"{platform}.example")

    return make


@pytest.mark.parametrize("name", APP_SAMPLES + DESKTOP_SAMPLES)
def test_every_sample_uploads_and_downloads_byte_exact(api, data_dir, name):
    sample = require_samples() / name
    expected = expected_metadata(name)
    content = sample.read_bytes()
    if name in DESKTOP_SAMPLES:
        platform, identifier = expected["platform"], "com.example.desktop"
    else:
        platform = "android" if name.startswith("android") else "ios"
        identifier = expected.get("package") or expected["CFBundleIdentifier"]
    product = api.create_product()
    variant = api.create_variant(product["id"], platform=platform, identifier=identifier)
    response = api.upload(variant["id"], sample.name, content)
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.json["data"]
    assert data["release"]["sha256"] == hashlib.sha256(content).hexdigest() == expected["sha256"]
    assert data["release"]["size_bytes"] == len(content)
    release_id = data["release"]["id"]
    folder = f"{product['id']}/{variant['id']}/{release_id}"
    assert f"{folder}/{sample.name}" in stored_files(data_dir)
    assert f"{folder}/meta.json" in stored_files(data_dir)
    download = api.call("GET", f"/d/{release_id}", token="")
    assert download.status_code == 200
    assert hashlib.sha256(download.data).hexdigest() == expected["sha256"]
    assert list((data_dir / "tmp").iterdir()) == []


def test_upload_response_carries_app_release_and_urls(api, variant_for):
    sample = require_samples() / "ios-iphone-binary-plist-no-icons.ipa"
    variant = variant_for("ios", "com.icyleaf.AppInfoDemo")
    response = api.upload(variant["id"], sample.name, sample.read_bytes(), channel="beta", changelog="Fixes")
    data = response.json["data"]
    assert response.status_code == 201
    assert data["app"] == {
        "id": variant["id"], "name": "Demo App", "platform": "ios", "bundle_id": "com.icyleaf.AppInfoDemo",
        "product_id": variant["product_id"], "variant_id": variant["id"],
    }
    release = data["release"]
    assert (release["version"], release["build"], release["channel"]) == ("1.2.3", "5", "beta")
    urls = data["urls"]
    assert urls["page"] == "http://localhost/products/demo"
    assert urls["release_page"] == f"http://localhost/products/demo?r={release['id']}"
    assert urls["download"] == f"http://localhost/d/{release['id']}"
    assert urls["ios_manifest"] == f"http://localhost/ios/{release['id']}/manifest.plist"
    assert urls["ios_install"] == (
        "itms-services://?action=download-manifest&url=http%3A%2F%2Flocalhost%2Fios%2F" + release["id"]
        + "%2Fmanifest.plist"
    )
    assert Event.get(Event.type == "upload").release_id == release["id"]


def test_meta_json_describes_the_committed_release(api, variant_for, data_dir):
    variant = variant_for("android", "com.politedroid")
    release = api.upload_release(variant["id"], "android-politedroid-minsdk3-tiny.apk", build="7")
    row = Release.get_by_id(release["id"])
    meta = json.loads((data_dir / "uploads" / row.storage_key).with_name("meta.json").read_text())
    assert meta == {
        "release_id": row.id, "variant_id": variant["id"], "product_id": variant["product_id"],
        "file_name": row.file_name, "size_bytes": row.size_bytes, "sha256": row.sha256, "version": "1.3",
        "build": "7", "identifier": "com.politedroid", "created_at": release["created_at"],
    }


def test_form_fields_win_over_parsed_values(api, variant_for):
    sample = require_samples() / "android-politedroid-minsdk3-tiny.apk"
    variant = variant_for("android", "com.politedroid")
    response = api.upload(variant["id"], sample.name, version="9.9", build="99", min_os="21")
    release = response.json["data"]["release"]
    row = Release.get_by_id(release["id"])
    assert (row.version, row.build, row.min_os) == ("9.9", "99", "21")


def test_text_fields_keep_unicode_and_changelog_line_breaks(api, variant_for):
    variant = variant_for("windows")
    fields = {"version": "2.0 β", "channel": "测试 🚀", "min_os": "²", "changelog": "One\r\nTwo\nThree\t✓"}
    release = api.upload_release(variant["id"], "setup.exe", b"MZ" + b"\0" * 100, **fields)
    row = Release.get_by_id(release["id"])
    assert (row.version, row.channel, row.min_os, row.changelog) == tuple(fields.values())


def test_parsed_values_fill_the_release_and_an_empty_variant_identifier(api, variant_for):
    sample = require_samples() / "android-politedroid-minsdk3-tiny.apk"
    variant = variant_for("android")
    Variant.update(identifier="").where(Variant.id == variant["id"]).execute()
    release = api.upload(variant["id"], sample.name, sample.read_bytes()).json["data"]["release"]
    assert (release["version"], release["build"]) == ("1.3", "4")
    assert Variant.get_by_id(variant["id"]).identifier == "com.politedroid"


def test_identifier_mismatch_is_refused(api, variant_for, data_dir):
    sample = require_samples() / "android-politedroid-minsdk3-tiny.apk"
    variant = variant_for("android", "com.other.app")
    response = api.upload(variant["id"], sample.name, sample.read_bytes())
    assert_error(response, 400, "BAD_REQUEST", "does not match")
    assert_nothing_left(data_dir)


def test_profile_of_an_ipa_is_stored_for_admins(api, variant_for):
    sample = require_samples() / "ios-xml-plist-appex-framework.ipa"
    variant = variant_for("ios", "com.icyleaf.test.Demo")
    api.upload(variant["id"], sample.name, sample.read_bytes())
    assert ProvisioningProfile.select().count() == 1
    product = api.data("GET", f"/admin/api/products/{variant['product_id']}")
    profile = product["variants"][0]["releases"][0]["provisioning_profile"]
    assert (profile["type"], profile["team_id"]) == ("enterprise", "72LA85G59H")
    assert profile["uuid"] == "1f67e425-350e-434c-9077-9e0791347bbf"
    assert profile["expires_at"] == "2022-01-15T06:40:53Z"


@pytest.mark.parametrize(
    "platform,file_name,content,fields,status,message",
    [
        ("ios", "app.apk", b"PK\x03\x04", {}, 400, ".apk files are not accepted for ios"),
        ("ios", "app", b"data", {}, 400, "no extension"),
        ("ios", "app.ipa", b"not a zip file", {}, 400, "not a zip archive"),
        ("android", "app.apk", b"", {}, 400, "app_file is empty"),
        ("windows", "setup.exe", b"#!/bin/sh\n", {}, 400, "does not look like a .exe"),
        ("macos", "app.dmg", b"x" * 1000, {}, 400, "disk image trailer"),
        ("linux", "app.deb", b"nope", {}, 400, "does not look like a .deb"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"build": "abc"}, 400, "build must be a non-negative integer"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"build": "-1"}, 400, "build must be a non-negative integer"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"build": "²"}, 400, "build must be a non-negative integer"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"build": "١٢"}, 400, "build must be a non-negative integer"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"version": "v" * 100}, 400, "version must be at most"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"version": "1.0\x00"}, 400, "version must be printable"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"version": "1.0\n2"}, 400, "version must be printable"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"build": "1\x7f"}, 400, "build must be printable"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"channel": "\x1b[31mbeta"}, 400, "channel must be printable"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"min_os": "10\u200b"}, 400, "min_os must be printable"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"changelog": "a\x00b"}, 400,
         "changelog must not contain control characters"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"changelog": "a\x1bb"}, 400,
         "changelog must not contain control characters"),
        ("windows", "setup.exe", b"MZ" + b"\0" * 100, {"changelog": "a\x85b"}, 400,
         "changelog must not contain control characters"),
    ],
)
def test_bad_uploads_leave_nothing_behind(api, variant_for, data_dir, platform, file_name, content, fields, status,
                                          message):
    variant = variant_for(platform)
    assert_error(api.upload(variant["id"], file_name, content, **fields), status, "BAD_REQUEST", message)
    assert_nothing_left(data_dir)


@pytest.mark.parametrize("name", ["ipa-not-a-zip.ipa", "ipa-empty-payload.ipa", "ipa-no-info-plist.ipa",
                                  "ipa-no-version-keys.ipa"])
def test_invalid_sample_packages_are_refused(api, variant_for, data_dir, name):
    sample = require_samples() / "invalid" / name
    variant = variant_for("ios", "com.example.iosBuildTest")
    response = api.upload(variant["id"], name, sample.read_bytes())
    assert_error(response, 400, "BAD_REQUEST")
    assert_nothing_left(data_dir)


def test_missing_fields(api, variant_for, data_dir):
    variant = variant_for("windows")
    response = api.call("POST", "/upload", token=UPLOAD_TOKEN, data={"variant_id": variant["id"]},
                        content_type="multipart/form-data")
    assert_error(response, 400, "BAD_REQUEST", "app_file is required")
    assert_error(api.upload(None, "a.exe", b"MZ"), 400, "BAD_REQUEST", "variant_id is required")
    assert_error(api.upload("var_0000000000000000", "a.exe", b"MZ"), 404, "NOT_FOUND", "variant")
    assert_nothing_left(data_dir)


def test_upload_needs_a_token(api, variant_for):
    variant = variant_for("windows")
    assert_error(api.upload(variant["id"], "a.exe", b"MZ", token=""), 401, "UNAUTHORIZED")
    assert_error(api.upload(variant["id"], "a.exe", b"MZ", token="nope"), 401, "UNAUTHORIZED")


def test_desktop_files_are_stored_with_their_original_name(api, variant_for, data_dir):
    variant = variant_for("windows")
    content = b"MZ" + bytes(range(256)) * 10
    release = api.upload(variant["id"], "../Setup Ä 1.0.exe", content).json["data"]["release"]
    row = Release.get_by_id(release["id"])
    assert row.file_name == "Setup Ä 1.0.exe"
    response = api.call("GET", f"/d/{release['id']}", token="")
    assert response.data == content
    assert response.headers["Content-Type"] == "application/vnd.microsoft.portable-executable"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''Setup%20%C3%84%201.0.exe" in disposition


def test_oversized_upload_is_413_and_leaves_nothing(make_app, data_dir):
    api = Api(make_app(max_upload_mb=1).test_client(), ADMIN_TOKEN)
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    too_big = b"MZ" + b"\0" * (2 * 1024 * 1024)
    assert_error(api.upload(variant["id"], "big.exe", too_big), 413, "PAYLOAD_TOO_LARGE")
    just_over = b"MZ" + b"\0" * (1024 * 1024)
    assert_error(api.upload(variant["id"], "big.exe", just_over), 413, "PAYLOAD_TOO_LARGE")
    assert_nothing_left(data_dir)
    fits = b"MZ" + b"\0" * (1024 * 1024 - 10)
    assert api.upload(variant["id"], "ok.exe", fits).status_code == 201


def test_stale_temporary_files_are_removed_at_start(make_app, data_dir):
    running = make_app()  # another server on the data dir: it holds the data dir's lock while it lives
    crashed = data_dir / "tmp" / "upload-crashed.part"
    crashed.write_bytes(b"half a file")
    two_hours_ago = time.time() - 7200
    os.utime(crashed, (two_hours_ago, two_hours_ago))
    in_flight = data_dir / "tmp" / "upload-running.part"
    in_flight.write_bytes(b"being written by a running server")
    make_app()
    assert list((data_dir / "tmp").iterdir()) == [in_flight]
    assert running.extensions  # kept alive, with its lock, until here


@pytest.mark.parametrize("failing_verb", ["save_file", "save_bytes"])
def test_storage_failure_is_a_generic_error_that_leaves_nothing(api, variant_for, data_dir, monkeypatch, caplog,
                                                               failing_verb):
    from fenfa_lib.storage import LocalStorage, StorageError

    def failing_store(self, key, *args, **kwargs):
        raise StorageError(f"cannot store {key} under /srv/secret/uploads: disk full")

    monkeypatch.setattr(LocalStorage, failing_verb, failing_store)
    variant = variant_for("windows")
    response = api.upload(variant["id"], "a.exe", b"MZ" + b"\0" * 64)
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response.json["error"]["message"] == "file storage is unavailable"
    assert "/srv/secret" not in response.get_data(as_text=True)
    assert "disk full" in caplog.text
    assert_nothing_left(data_dir)


def test_client_disconnect_mid_upload_leaves_nothing(api, variant_for, data_dir):
    variant = variant_for("windows")
    boundary = "fenfa-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"variant_id\"\r\n\r\n{variant['id']}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"app_file\"; filename=\"a.exe\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + b"MZ" + b"\0" * 100_000
    response = api.call("POST", "/upload", token=UPLOAD_TOKEN, data=body,
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                 "Content-Length": str(len(body) + 50_000)})
    assert response.status_code == 400
    assert response.json["ok"] is False
    assert_nothing_left(data_dir)
