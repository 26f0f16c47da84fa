"""Uploads, downloads and deletes through the API with S3 storage on a real S3 server."""
import hashlib
import itertools
import urllib.error
import urllib.request

import pytest

from fenfa_lib.models import Release

from corpus import require_samples
from helpers import assert_error
from s3server import client as s3_client
from s3server import make_bucket

bucket_numbers = itertools.count()


@pytest.fixture
def bucket(s3_server):
    return make_bucket(s3_server, f"fenfa-api-{next(bucket_numbers)}")


@pytest.fixture
def s3_settings(s3_server, bucket):
    return {
        "storage_type": "s3", "s3_endpoint": s3_server.endpoint, "s3_region": s3_server.region,
        "s3_bucket": bucket, "s3_access_key": s3_server.access_key, "s3_secret_key": s3_server.secret_key,
    }


@pytest.fixture
def use_s3(api, s3_settings):
    return api.data("PUT", "/admin/api/settings", json=s3_settings)



def politedroid():
    return (require_samples() / "android-politedroid-minsdk3-tiny.apk").read_bytes()


def bucket_keys(server, bucket):
    listing = s3_client(server).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def fetch(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture
def variant(api):
    return api.create_variant(api.create_product()["id"], platform="android", identifier="com.politedroid")


def test_switching_to_s3_checks_the_bucket(api, s3_settings):
    assert_error(api.call("PUT", "/admin/api/settings", json={**s3_settings, "s3_bucket": "no-such-bucket"}),
                 400, "BAD_REQUEST", "S3 storage is not usable")
    assert_error(api.call("PUT", "/admin/api/settings", json={**s3_settings, "s3_secret_key": "wrong"}),
                 400, "BAD_REQUEST", "S3 storage is not usable")
    settings = api.data("PUT", "/admin/api/settings", json=s3_settings)
    assert (settings["storage_type"], settings["s3_configured"]) == ("s3", True)


def test_upload_goes_to_the_bucket_and_downloads_by_presigned_redirect(api, client, data_dir, s3_server, bucket,
                                                                      variant, use_s3):
    sample = require_samples() / "android-politedroid-minsdk3-tiny.apk"
    content = sample.read_bytes()
    release = api.upload_release(variant["id"], sample.name, content)
    folder = f"{variant['product_id']}/{variant['id']}/{release['id']}"
    assert set(bucket_keys(s3_server, bucket)) >= {f"{folder}/{sample.name}", f"{folder}/meta.json"}
    assert not (data_dir / "uploads").exists() or list((data_dir / "uploads").rglob("*")) == []
    assert list((data_dir / "tmp").iterdir()) == []

    response = client.get(f"/d/{release['id']}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{s3_server.endpoint}/{bucket}/") and "X-Amz-Signature=" in location
    status, headers, body = fetch(location)
    assert (status, hashlib.sha256(body).hexdigest()) == (200, release["sha256"])
    assert "android-politedroid-minsdk3-tiny.apk" in headers["Content-Disposition"]
    status, _, body = fetch(location, {"Range": "bytes=100-199"})
    assert (status, body) == (206, content[100:200])
    assert Release.get_by_id(release["id"]).download_count == 1
    for partial in ("bytes=500-", "bytes=0-99"):  # a resumed download, a probe of the first bytes
        client.get(f"/d/{release['id']}", headers={"Range": partial})
    assert Release.get_by_id(release["id"]).download_count == 1
    client.get(f"/d/{release['id']}", headers={"Range": "bytes=0-"})
    assert Release.get_by_id(release["id"]).download_count == 2


def test_presigned_urls_expire(api, client, variant, use_s3):
    import time

    api.data("PUT", "/admin/api/settings", json={"s3_presign_seconds": 1})
    release = api.upload_release(variant["id"], "app.apk", politedroid())
    location = client.get(f"/d/{release['id']}").headers["Location"]
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as refused:
        fetch(location)
    assert refused.value.code == 403


def test_public_url_redirects_without_a_signature(api, client, variant, use_s3):
    api.data("PUT", "/admin/api/settings", json={"s3_public_url": "https://cdn.example.com/builds/"})
    release = api.upload_release(variant["id"], "My App.apk", politedroid())
    location = client.get(f"/d/{release['id']}").headers["Location"]
    assert location == (f"https://cdn.example.com/builds/{variant['product_id']}/{variant['id']}/"
                        f"{release['id']}/My%20App.apk")


def test_large_upload_uses_multipart(api, s3_server, bucket, use_s3):
    windows = api.create_variant(api.create_product(slug="desk")["id"], platform="windows")
    content = b"MZ" + hashlib.sha256(b"seed").digest() * (40 * 1024 * 1024 // 32)
    release = api.upload_release(windows["id"], "setup.exe", content)
    key = Release.get_by_id(release["id"]).storage_key
    head = s3_client(s3_server).head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(content)
    assert "-" in head["ETag"]
    assert release["sha256"] == hashlib.sha256(content).hexdigest()


def test_older_releases_keep_their_storage_after_switching(api, client, s3_server, bucket, s3_settings, variant):
    apk = politedroid()
    local_release = api.upload_release(variant["id"], "local.apk", apk)
    api.data("PUT", "/admin/api/settings", json=s3_settings)
    s3_release = api.upload_release(variant["id"], "s3.apk", apk)
    api.data("PUT", "/admin/api/settings", json={"storage_type": "local"})
    assert client.get(f"/d/{local_release['id']}").data == apk
    assert client.get(f"/d/{s3_release['id']}").status_code == 302
    assert [r.storage for r in Release.select().order_by(Release.created_at)] == ["local", "s3"]


def test_deletes_remove_objects(api, s3_server, bucket, variant, use_s3):
    apk = politedroid()
    first = api.upload_release(variant["id"], "one.apk", apk)
    api.upload_release(variant["id"], "two.apk", apk)
    api.data("DELETE", f"/admin/api/releases/{first['id']}")
    assert not any(first["id"] in key for key in bucket_keys(s3_server, bucket))
    assert bucket_keys(s3_server, bucket)
    api.data("DELETE", f"/admin/api/products/{variant['product_id']}")
    assert bucket_keys(s3_server, bucket) == []


def test_s3_credentials_stay_while_s3_releases_exist(api, client, variant, use_s3):
    release = api.upload_release(variant["id"], "app.apk", politedroid())
    api.data("PUT", "/admin/api/settings", json={"storage_type": "local"})
    assert_error(api.call("PUT", "/admin/api/settings", json={"s3_secret_key": None}), 400, "BAD_REQUEST",
                 "releases stored in S3")
    assert client.get(f"/d/{release['id']}").status_code == 302
    api.data("DELETE", f"/admin/api/releases/{release['id']}")
    assert api.data("PUT", "/admin/api/settings", json={"s3_secret_key": None})["s3_configured"] is False


@pytest.mark.parametrize("change", [{"s3_bucket": "another-bucket"}, {"s3_secret_key": "wrong-secret"},
                                    {"s3_endpoint": "http://127.0.0.1:9"}])
def test_s3_settings_that_lose_existing_releases_are_refused(api, client, s3_server, variant, use_s3, change):
    if not any(item["Name"] == "another-bucket" for item in s3_client(s3_server).list_buckets()["Buckets"]):
        make_bucket(s3_server, "another-bucket")
    release = api.upload_release(variant["id"], "app.apk", politedroid())
    api.data("PUT", "/admin/api/settings", json={"storage_type": "local"})
    assert_error(api.call("PUT", "/admin/api/settings", json=change), 400, "BAD_REQUEST",
                 "releases stored in S3 need working S3 settings")
    assert fetch(client.get(f"/d/{release['id']}").headers["Location"])[0] == 200
