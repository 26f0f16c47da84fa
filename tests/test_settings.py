"""Settings and upload configuration through the admin API."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certs import pem_key
from helpers import UPLOAD_TOKEN, assert_error


def p8_key():
    return pem_key(ec.generate_private_key(ec.SECP256R1())).decode()


def test_defaults(api):
    settings = api.data("GET", "/admin/api/settings")
    assert settings["storage_type"] == "local"
    assert settings["secondary_domains"] == []
    assert settings["s3_presign_seconds"] == 900
    assert (settings["s3_configured"], settings["apple_configured"]) == (False, False)
    assert settings["warnings"]


def test_update_and_read_back_without_secrets(api):
    changes = {
        "primary_domain": "https://apps.example.com/",
        "secondary_domains": ["https://cdn.example.com"],
        "organization": "Example Ltd",
        "s3_bucket": "builds",
        "s3_access_key": "AKIAEXAMPLE",
        "s3_secret_key": "very-secret",
        "apple_key_id": "ABC123DEFG",
        "apple_issuer_id": "57246542-96fe-1a63-e053-0824d011072a",
        "apple_private_key": p8_key(),
    }
    settings = api.data("PUT", "/admin/api/settings", json=changes)
    assert settings["primary_domain"] == "https://apps.example.com"
    assert settings["secondary_domains"] == ["https://cdn.example.com"]
    assert (settings["s3_configured"], settings["apple_configured"]) == (True, True)
    assert settings["warnings"] == []
    text = str(api.data("GET", "/admin/api/settings"))
    for secret in ("AKIAEXAMPLE", "very-secret", "PRIVATE KEY"):
        assert secret not in text


def test_null_clears_a_field(api):
    api.data("PUT", "/admin/api/settings", json={"organization": "Example", "secondary_domains": ["https://a.b"]})
    settings = api.data("PUT", "/admin/api/settings", json={"organization": None, "secondary_domains": None})
    assert (settings["organization"], settings["secondary_domains"]) == ("", [])


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"primary_domain": "ftp://example.com"}, "primary_domain must be an http"),
        ({"primary_domain": "example.com"}, "primary_domain must be an http"),
        ({"primary_domain": 5}, "primary_domain must be a URL"),
        ({"secondary_domains": "https://a.example"}, "secondary_domains must be a list"),
        ({"secondary_domains": ["nope"]}, "secondary_domains must be an http"),
        ({"storage_type": "ftp"}, "storage_type must be local or s3"),
        ({"s3_presign_seconds": 0}, "s3_presign_seconds must be between"),
        ({"s3_presign_seconds": "60"}, "s3_presign_seconds must be an integer"),
        ({"apple_private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"}, "apple_private_key"),
        ({"apple_private_key": pem_key(rsa.generate_private_key(65537, 2048)).decode()}, "must be an EC P-256 key"),
        ({"apple_private_key": pem_key(ec.generate_private_key(ec.SECP384R1())).decode()}, "must be an EC P-256 key"),
        ({"favourite_colour": "blue"}, "unknown setting"),
        ({"organization": ["x"]}, "organization must be a string"),
        ({"s3_region": "bad region!"}, "s3_region is not a valid S3 region name"),
        ({"s3_bucket": "Not_A_Bucket"}, "s3_bucket is not a valid S3 bucket name"),
        ({"s3_bucket": 7}, "s3_bucket is not a valid S3 bucket name"),
        ({"events_retention_days": 0}, "events_retention_days must be between"),
        ({"events_retention_days": "30"}, "events_retention_days must be an integer"),
    ],
)
def test_validation(api, changes, message):
    assert_error(api.call("PUT", "/admin/api/settings", json=changes), 400, "BAD_REQUEST", message)
    assert api.data("GET", "/admin/api/settings")["storage_type"] == "local"


def test_switching_to_unreachable_s3_is_refused(api):
    changes = {"storage_type": "s3", "s3_endpoint": "http://127.0.0.1:9", "s3_bucket": "builds",
               "s3_access_key": "a", "s3_secret_key": "b", "s3_region": "us-east-1"}
    assert_error(api.call("PUT", "/admin/api/settings", json=changes), 400, "BAD_REQUEST", "S3 storage is not usable")
    assert api.data("GET", "/admin/api/settings")["storage_type"] == "local"


def test_saved_primary_domain_drives_generated_urls(api):
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://dl.example.com"})
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    response = api.upload(variant["id"], "a.exe", b"MZ..")
    assert response.json["data"]["urls"]["download"].startswith("https://dl.example.com/d/rel_")


def test_upload_config(api):
    config = api.data("GET", "/admin/api/upload-config")
    assert config["storage_type"] == "local"
    assert config["max_upload_mb"] == 4096
    assert config["allowed_extensions"]["ios"] == [".ipa"]
    assert ".tar.gz" in config["allowed_extensions"]["linux"]


@pytest.mark.parametrize("path", ["/admin/api/settings", "/admin/api/upload-config"])
def test_settings_need_an_admin_token(api, path):
    assert_error(api.call("GET", path, token=""), 401, "UNAUTHORIZED")
    assert_error(api.call("GET", path, token=UPLOAD_TOKEN), 403, "FORBIDDEN")


@pytest.mark.parametrize("value", ["http://[abc", "https://a b.com", "https://apps.example.com\r\nX: y",
                                   "http://a:99999", "https://user@apps.example.com", "javascript:alert(1)"])
def test_malformed_domains_are_refused(api, value):
    assert_error(api.call("PUT", "/admin/api/settings", json={"primary_domain": value}), 400, "BAD_REQUEST",
                 "primary_domain must be an http")


def test_path_style_can_be_switched_off_for_virtual_hosted_buckets(app, api):
    from fenfa_lib.release_files import storage_for

    settings = api.data("PUT", "/admin/api/settings", json={
        "s3_endpoint": "https://s3.eu-west-1.amazonaws.com", "s3_bucket": "builds", "s3_access_key": "a",
        "s3_secret_key": "b", "s3_path_style": False})
    assert settings["s3_path_style"] is False
    with app.test_request_context():
        url = storage_for("s3").download_url("prd_a/var_b/rel_c/app.apk", "app.apk", "application/octet-stream")
    assert url.startswith("https://builds.s3.eu-west-1.amazonaws.com/prd_a/var_b/rel_c/app.apk?")
    assert_error(api.call("PUT", "/admin/api/settings", json={"s3_path_style": "no"}), 400, "BAD_REQUEST",
                 "s3_path_style must be true or false")
