"""Storage: the same behaviour from the local folder and from a real S3 server (SeaweedFS)."""
import hashlib
import os
import re
import time
import uuid
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

import pytest

from fenfa_lib.storage import LocalStorage, StorageError, build_storage, content_disposition, validate_key
from fenfa_lib.storage.s3 import S3Storage

from s3server import client as s3_client
from s3server import make_bucket

MIB = 1024 * 1024
BUCKET = "fenfa-test"


@pytest.fixture(scope="session")
def s3_bucket(s3_server):
    return make_bucket(s3_server, BUCKET)


def s3_storage(server, bucket=BUCKET, **options):
    options = {"access_key": server.access_key, "secret_key": server.secret_key, **options}
    return S3Storage(server.endpoint, server.region, bucket, **options)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "uploads")
    request.getfixturevalue("s3_bucket")
    return s3_storage(request.getfixturevalue("s3_server"))


@pytest.fixture
def folder():
    """A release folder of its own, so tests sharing the bucket cannot see each other's objects."""
    return f"prd_{uuid.uuid4().hex[:12]}/var_1/rel_1"


@pytest.fixture
def s3(s3_server, s3_bucket):
    return s3_storage(s3_server)


def write_file(path, data):
    path.write_bytes(data)
    return path


def read_all(storage, key):
    with storage.open(key) as stream:
        return stream.read()


def sha256_of_stream(stream):
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(MIB), b""):
        digest.update(chunk)
    return digest.hexdigest()


def test_save_file_moves_the_file_into_place(storage, folder, tmp_path):
    payload = os.urandom(300_000)
    source = write_file(tmp_path / "spool.tmp", payload)
    key = f"{folder}/My App 1.0.ipa"

    storage.save_file(key, source)

    assert not source.exists()
    assert read_all(storage, key) == payload
    with storage.open(key) as stream:
        assert sha256_of_stream(stream) == hashlib.sha256(payload).hexdigest()
    assert storage.size(key) == len(payload)
    assert storage.exists(key)


def test_save_bytes_then_open_size_exists(storage, folder):
    key = f"{folder}/meta.json"
    storage.save_bytes(key, b'{"version": "1.0"}', content_type="application/json")
    storage.save_bytes(key, b'{"version": "1.1"}', content_type="application/json")

    assert read_all(storage, key) == b'{"version": "1.1"}'
    assert storage.size(key) == 18
    assert storage.exists(key)


def test_missing_key_raises_file_not_found(storage, folder):
    key = f"{folder}/missing.ipa"
    with pytest.raises(FileNotFoundError):
        storage.open(key)
    with pytest.raises(FileNotFoundError):
        storage.size(key)
    assert storage.exists(key) is False


def test_delete_removes_one_object_and_ignores_missing(storage, folder):
    storage.save_bytes(f"{folder}/icon.png", b"png")
    storage.save_bytes(f"{folder}/meta.json", b"{}")

    storage.delete(f"{folder}/icon.png")
    storage.delete(f"{folder}/icon.png")

    assert not storage.exists(f"{folder}/icon.png")
    assert storage.exists(f"{folder}/meta.json")


def test_delete_prefix_removes_only_that_release_folder(storage, folder):
    variant = folder.rsplit("/", 1)[0]
    doomed = [f"{variant}/rel_1/App.ipa", f"{variant}/rel_1/icon.png", f"{variant}/rel_1/sub/meta.json"]
    kept = [f"{variant}/rel_10/App.ipa", f"{variant}/rel_2/App.ipa"]
    for key in doomed + kept:
        storage.save_bytes(key, key.encode())

    storage.delete_prefix(f"{variant}/rel_1")
    storage.delete_prefix(f"{variant}/rel_1")
    storage.delete_prefix(f"{variant}/rel_missing")

    assert [key for key in doomed if storage.exists(key)] == []
    assert [key for key in kept if storage.exists(key)] == kept


def test_s3_delete_prefix_deletes_every_listing_page(s3, folder, monkeypatch):
    monkeypatch.setattr("fenfa_lib.storage.s3.DELETE_BATCH", 2)
    doomed = [f"{folder}/part-{n}" for n in range(5)]
    kept = f"{folder}x/App.ipa"
    for key in doomed + [kept]:
        s3.save_bytes(key, b"x")

    s3.delete_prefix(folder)

    assert [key for key in doomed if s3.exists(key)] == []
    assert s3.exists(kept)


def test_local_delete_prefix_removes_empty_parent_folders(tmp_path):
    storage = LocalStorage(tmp_path / "uploads")
    storage.save_bytes("prd_a/var_1/rel_1/App.ipa", b"1")
    storage.save_bytes("prd_a/var_2/rel_2/App.ipa", b"2")

    storage.delete_prefix("prd_a/var_1/rel_1")
    assert sorted(path.name for path in (tmp_path / "uploads" / "prd_a").iterdir()) == ["var_2"]

    storage.delete_prefix("prd_a/var_2/rel_2")
    assert list((tmp_path / "uploads").iterdir()) == []


def test_local_save_failure_raises_storage_error_and_leaves_nothing(tmp_path):
    storage = LocalStorage(tmp_path / "uploads")
    with pytest.raises(StorageError, match="cannot store prd_a/var_1/rel_1/App.ipa"):
        storage.save_file("prd_a/var_1/rel_1/App.ipa", tmp_path / "no-such-spool.tmp")
    assert not storage.exists("prd_a/var_1/rel_1/App.ipa")
    assert list(storage.root.iterdir()) == []


def test_s3_save_failure_raises_storage_error_and_leaves_nothing(s3_server, s3, folder, tmp_path):
    source = write_file(tmp_path / "spool.tmp", b"data")
    wrong_secret = s3_storage(s3_server, secret_key="wrong-secret")
    with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
        wrong_secret.save_file(f"{folder}/App.ipa", source)
    assert source.exists()
    assert not s3.exists(f"{folder}/App.ipa")

    with pytest.raises(StorageError, match="NoSuchBucket"):
        s3_storage(s3_server, bucket="fenfa-no-such-bucket").save_file(f"{folder}/App.ipa", source)


@pytest.mark.parametrize("bad_key", [
    "", "/prd/var/rel/App.ipa", "prd\\var\\App.ipa", "prd/var/App\0.ipa", "prd/var/App\n.ipa",
    ".", "..", "./prd/App.ipa", "prd/../App.ipa", "prd/var/..", "prd//App.ipa", "prd/var/", None,
])
def test_validate_key_rejects(bad_key):
    with pytest.raises(ValueError):
        validate_key(bad_key)


@pytest.mark.parametrize("good_key", ["prd_x/var_y/rel_z/My App 1.0.ipa", "prd_x/var_y/rel_z/Démo ä.apk", "a..b/c.d"])
def test_validate_key_accepts(good_key):
    assert validate_key(good_key) == good_key


@pytest.mark.parametrize("call", [
    lambda storage, key, tmp_path: storage.save_file(key, write_file(tmp_path / "x", b"x")),
    lambda storage, key, tmp_path: storage.save_bytes(key, b"x"),
    lambda storage, key, tmp_path: storage.open(key),
    lambda storage, key, tmp_path: storage.size(key),
    lambda storage, key, tmp_path: storage.exists(key),
    lambda storage, key, tmp_path: storage.delete(key),
    lambda storage, key, tmp_path: storage.delete_prefix(key),
    lambda storage, key, tmp_path: storage.local_path(key),
    lambda storage, key, tmp_path: storage.download_url(key, "x.ipa", "application/octet-stream"),
], ids=["save_file", "save_bytes", "open", "size", "exists", "delete", "delete_prefix", "local_path", "download_url"])
def test_every_verb_checks_its_key(storage, tmp_path, call):
    with pytest.raises(ValueError):
        call(storage, "prd/../../escape", tmp_path)
    with pytest.raises(ValueError):
        call(storage, "", tmp_path)


def test_local_path_and_download_url(tmp_path):
    local = LocalStorage(tmp_path / "uploads")
    local.save_bytes("prd/var/rel/App.ipa", b"ipa")
    path = local.local_path("prd/var/rel/App.ipa")
    assert path.is_absolute() and path.read_bytes() == b"ipa"
    assert local.download_url("prd/var/rel/App.ipa", "App.ipa", "application/octet-stream") is None
    assert S3Storage("http://127.0.0.1:9", "us-east-1", "fenfa", "key", "secret").local_path("prd/App.ipa") is None


def test_s3_large_file_goes_up_in_parts(s3_server, s3, folder, tmp_path):
    source = tmp_path / "big.ipa"
    digest = hashlib.sha256()
    with open(source, "wb") as out:
        for _ in range(40):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    key = f"{folder}/Big.ipa"

    s3.save_file(key, source)

    assert not source.exists()
    etag = s3_client(s3_server).head_object(Bucket=BUCKET, Key=key)["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}-3"', etag), etag
    assert s3.size(key) == 40 * MIB
    with s3.open(key) as stream:
        assert sha256_of_stream(stream) == digest.hexdigest()


def test_s3_save_bytes_stores_content_type(s3_server, s3, folder):
    s3.save_bytes(f"{folder}/icon.png", b"png", content_type="image/png")
    s3.save_bytes(f"{folder}/blob", b"x")
    head = s3_client(s3_server).head_object
    assert head(Bucket=BUCKET, Key=f"{folder}/icon.png")["ContentType"] == "image/png"
    assert head(Bucket=BUCKET, Key=f"{folder}/blob")["ContentType"] == "application/octet-stream"


@pytest.fixture
def stored_ipa(s3, folder):
    key = f"{folder}/Demo Ä 1.0.ipa"
    payload = os.urandom(5000)
    s3.save_bytes(key, payload)
    return key, payload


def test_presigned_url_serves_bytes_with_attachment_name(s3, stored_ipa):
    key, payload = stored_ipa
    url = s3.download_url(key, "Demo Ä 1.0.ipa", "application/octet-stream")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=900" in url

    with urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.read() == payload
        assert response.headers["Content-Disposition"] == content_disposition("Demo Ä 1.0.ipa")
        assert response.headers["Content-Type"] == "application/octet-stream"


def test_presigned_url_serves_byte_ranges(s3, stored_ipa):
    key, payload = stored_ipa
    url = s3.download_url(key, "Demo Ä 1.0.ipa", "application/octet-stream")
    with urlopen(Request(url, headers={"Range": "bytes=1000-1999"}), timeout=10) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == "bytes 1000-1999/5000"
        assert response.read() == payload[1000:2000]


def test_presigned_url_expires(s3_server, stored_ipa):
    key, _payload = stored_ipa
    url = s3_storage(s3_server, presign_seconds=1).download_url(key, "Demo.ipa", "application/octet-stream")
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["1"]
    time.sleep(2.2)
    with pytest.raises(HTTPError) as refused:
        urlopen(url, timeout=10)
    assert refused.value.code == 403


def test_presigned_url_with_tampered_signature_is_refused(s3, stored_ipa):
    key, _payload = stored_ipa
    parts = urlsplit(s3.download_url(key, "Demo.ipa", "application/octet-stream"))
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    with pytest.raises(HTTPError) as refused:
        urlopen(urlunsplit(parts._replace(query=urlencode(query))), timeout=10)
    assert refused.value.code == 403


def test_public_url_form():
    storage = S3Storage("http://127.0.0.1:9", "us-east-1", "fenfa", "key", "secret",
                        public_url="https://cdn.example.test/files/")
    url = storage.download_url("prd_x/var_y/rel_z/My App Ä.ipa", "My App Ä.ipa", "application/octet-stream")
    assert url == "https://cdn.example.test/files/prd_x/var_y/rel_z/My%20App%20%C3%84.ipa"


def test_s3_check(s3_server, s3):
    s3.check()
    with pytest.raises(StorageError, match="fenfa-no-such-bucket.*404"):
        s3_storage(s3_server, bucket="fenfa-no-such-bucket").check()
    with pytest.raises(StorageError, match="403"):
        s3_storage(s3_server, secret_key="wrong-secret").check()


def test_s3_check_unreachable_endpoint():
    storage = S3Storage("http://127.0.0.1:9", "us-east-1", "fenfa", "key", "secret")
    with pytest.raises(StorageError, match="Could not connect"):
        storage.check()


def test_local_check(tmp_path):
    LocalStorage(tmp_path / "new" / "uploads").check()
    assert (tmp_path / "new" / "uploads").is_dir()
    write_file(tmp_path / "a-file", b"")
    with pytest.raises(StorageError, match="not writable"):
        LocalStorage(tmp_path / "a-file").check()


@pytest.mark.parametrize("file_name, header", [
    ("App.ipa", "attachment; filename=\"App.ipa\"; filename*=UTF-8''App.ipa"),
    ("Demo Ä 1.0.ipa", "attachment; filename=\"Demo A 1.0.ipa\"; filename*=UTF-8''Demo%20%C3%84%201.0.ipa"),
    ('say "hi"\\.apk', "attachment; filename=\"say \\\"hi\\\"\\\\.apk\"; filename*=UTF-8''say%20%22hi%22%5C.apk"),
    ("应用", "attachment; filename=\"download\"; filename*=UTF-8''%E5%BA%94%E7%94%A8"),
    ("a\r\nb;c.ipa", "attachment; filename=\"ab;c.ipa\"; filename*=UTF-8''ab%3Bc.ipa"),
    ("v1+2 (beta)~.apk", "attachment; filename=\"v1+2 (beta)~.apk\"; filename*=UTF-8''v1+2%20%28beta%29~.apk"),
])
def test_content_disposition(file_name, header):
    assert content_disposition(file_name) == header


def test_build_storage(tmp_path):
    local = build_storage("local", tmp_path, {})
    assert (local.kind, local.root) == ("local", (tmp_path / "uploads").resolve())

    settings = {
        "s3_endpoint": "http://127.0.0.1:9", "s3_region": "eu-west-1", "s3_bucket": "fenfa",
        "s3_access_key": "key", "s3_secret_key": "secret", "s3_public_url": "", "s3_presign_seconds": 300,
    }
    s3 = build_storage("s3", tmp_path, settings)
    assert (s3.kind, s3.bucket, s3.presign_seconds, s3.public_url) == ("s3", "fenfa", 300, None)
    assert s3.client.meta.region_name == "eu-west-1"

    with pytest.raises(StorageError, match="S3 is not configured: s3_bucket is missing"):
        build_storage("s3", tmp_path, {**settings, "s3_bucket": ""})
    with pytest.raises(StorageError, match="s3_secret_key is missing"):
        build_storage("s3", tmp_path, {key: value for key, value in settings.items() if key != "s3_secret_key"})
    with pytest.raises(StorageError, match="unknown storage type"):
        build_storage("ftp", tmp_path, settings)
