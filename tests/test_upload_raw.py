"""PUT /upload/<file_name>: the build as the raw body, the form's fields as query parameters; the same release and
answer as POST /upload. Through the Flask test client (the body copied into a spool) and through a real server
(the body received straight into its spool, as it arrives)."""
import hashlib
import json
import socket
import subprocess
import time
from urllib.parse import urlencode

import pytest

from fenfa_lib.models import Release

from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api, assert_error, assert_nothing_left, stored_files
from live import live_fenfa

IPA = "ios-iphone-binary-plist-no-icons.ipa"
IPA_ID = "com.icyleaf.AppInfoDemo"
EXE = b"MZ" + bytes(range(256)) * 400
TOKENS = {"admin_token": ADMIN_TOKEN, "upload_token": UPLOAD_TOKEN}


def put(api, variant_id, file_name, content, token=UPLOAD_TOKEN, **fields):
    query = urlencode({"variant_id": variant_id, **fields} if variant_id else fields)
    return api.call("PUT", f"/upload/{file_name}?{query}", token=token, data=content,
                    content_type="application/octet-stream")


@pytest.fixture
def ios_variant(api):
    return api.create_variant(api.create_product()["id"], platform="ios", identifier=IPA_ID)


def test_a_put_gives_the_same_release_and_answer_as_a_post(api, ios_variant, data_dir):
    content = (require_samples() / IPA).read_bytes()
    posted = api.upload(ios_variant["id"], IPA, content, channel="beta", build="7").json["data"]
    response = put(api, ios_variant["id"], IPA, content, channel="beta", build="7")
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.json["data"]
    assert data["app"] == posted["app"]
    release = data["release"]
    assert release["sha256"] == hashlib.sha256(content).hexdigest() == posted["release"]["sha256"]
    assert (release["size_bytes"], release["version"], release["build"], release["channel"]) == (
        len(content), "1.2.3", "7", "beta")
    assert data["urls"].keys() == posted["urls"].keys()
    assert data["urls"]["download"].endswith(f"/d/{release['id']}")
    row = Release.get_by_id(release["id"])
    assert (row.file_name, row.identifier) == (IPA, IPA_ID)
    assert f"{ios_variant['product_id']}/{ios_variant['id']}/{release['id']}/{IPA}" in stored_files(data_dir)
    assert api.call("GET", f"/d/{release['id']}", token="").data == content
    assert list((data_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_a_put_needs_a_token(api, ios_variant, data_dir, token):
    assert_error(put(api, ios_variant["id"], "a.exe", EXE, token=token), 401, "UNAUTHORIZED")
    assert_nothing_left(data_dir)


def test_a_put_past_the_upload_limit_is_413_and_leaves_nothing(make_app, data_dir):
    api = Api(make_app(max_upload_mb=1).test_client(), ADMIN_TOKEN)
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    just_over = b"MZ" + b"\0" * (1024 * 1024 - 1)
    assert_error(put(api, variant["id"], "big.exe", just_over), 413, "PAYLOAD_TOO_LARGE")
    assert_nothing_left(data_dir)
    assert put(api, variant["id"], "ok.exe", just_over[:-1]).status_code == 201


@pytest.mark.parametrize(("variant", "file_name", "content", "fields", "status", "message"), [
    ("ios", "app.ipa", b"PK\3\4 not really a zip", {}, 400, "not a zip archive"),
    ("ios", "app.exe", EXE, {}, 400, ".exe files are not accepted for ios"),
    ("windows", "setup.exe", b"", {}, 400, "the file is empty"),
    ("windows", "setup", EXE, {}, 400, "the file name has no extension"),
    ("windows", "setup.exe", EXE, {"build": "1.2"}, 400, "build must be a non-negative integer"),
    ("windows", "setup.exe", EXE, {"version": "v" * 65}, 400, "version must be at most 64 characters"),
    (None, "setup.exe", EXE, {}, 400, "variant_id is required"),
    ("var_0000000000000000", "setup.exe", EXE, {}, 404, "variant"),
])
def test_bad_puts_leave_nothing_behind(api, data_dir, variant, file_name, content, fields, status, message):
    if variant in ("ios", "windows"):
        variant = api.create_variant(api.create_product()["id"], platform=variant, identifier="com.example")["id"]
    response = put(api, variant, file_name, content, **fields)
    assert response.status_code == status, response.get_data(as_text=True)
    assert message in response.json["error"]["message"]
    assert_nothing_left(data_dir)


def curl_put(server, path, file_path, token=UPLOAD_TOKEN):
    result = subprocess.run(["curl", "-sS", "-H", f"X-Auth-Token: {token}", "-T", str(file_path), server.base + path],
                            capture_output=True, timeout=60, check=True)
    return json.loads(result.stdout)


def live_variant(server, platform, identifier):
    def post(path, body):
        result = subprocess.run(["curl", "-sS", "-H", f"X-Auth-Token: {ADMIN_TOKEN}", "-d", json.dumps(body),
                                 server.base + path], capture_output=True, timeout=30, check=True)
        return json.loads(result.stdout)["data"]

    product = post("/admin/api/products", {"name": "Live", "slug": "live"})["product"]
    return post(f"/admin/api/products/{product['id']}/variants",
                {"platform": platform, "display_name": platform, "identifier": identifier})["variant"]


def wait_until_empty(folder, timeout=10):
    """The spool of a finished request is removed once waitress closes it, just after the answer went out."""
    deadline = time.monotonic() + timeout
    while list(folder.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(folder.iterdir())


def test_a_live_put_is_received_into_its_spool_and_renamed_into_place(data_dir, tmp_path):
    sample = require_samples() / IPA
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = live_variant(server, "ios", IPA_ID)
        answer = curl_put(server, f"/upload/{IPA}?variant_id={variant['id']}&changelog=Fixes%0Amore", sample)
        assert answer["ok"] is True, answer
        release = answer["data"]["release"]
        assert release["sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
        assert set(answer["data"]) == {"app", "release", "urls", "duplicate", "warnings"}
        assert answer["data"]["app"]["bundle_id"] == IPA_ID
        stored = data_dir / "uploads" / variant["product_id"] / variant["id"] / release["id"] / IPA
        assert stored.read_bytes() == sample.read_bytes()
        assert wait_until_empty(data_dir / "tmp") == []


def test_a_live_put_without_a_token_or_past_the_limit_is_refused_before_its_body_is_read(data_dir, tmp_path):
    big = tmp_path / "big.exe"
    with open(big, "wb") as handle:
        handle.write(b"MZ")
        handle.truncate(2 * 1024 * 1024 + 1)
    with live_fenfa(data_dir, max_upload_mb=2, **TOKENS) as server:
        variant = live_variant(server, "windows", "com.example")
        assert curl_put(server, f"/upload/big.exe?variant_id={variant['id']}", big, token="") == {
            "ok": False, "error": {"code": "UNAUTHORIZED", "message": "X-Auth-Token header is required"}}
        refused = curl_put(server, f"/upload/big.exe?variant_id={variant['id']}", big)
        assert refused["error"]["code"] == "PAYLOAD_TOO_LARGE", refused
        deadline = time.monotonic() + 5  # the access line is written after the answer was sent
        while "PUT /upload/big.exe 413" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "PUT /upload/big.exe 413" in server.log()
        assert stored_files(data_dir) == [] and wait_until_empty(data_dir / "tmp") == []


def test_a_live_put_of_a_bad_package_leaves_nothing(data_dir, tmp_path):
    bad = tmp_path / "broken.ipa"
    bad.write_bytes(b"PK\3\4" + bytes(5000))
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = live_variant(server, "ios", IPA_ID)
        answer = curl_put(server, f"/upload/broken.ipa?variant_id={variant['id']}", bad)
        assert answer["error"]["code"] == "BAD_REQUEST", answer
        assert stored_files(data_dir) == [] and wait_until_empty(data_dir / "tmp") == []


def test_a_put_whose_client_goes_away_mid_body_leaves_nothing(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = live_variant(server, "windows", "com.example")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(f"PUT /upload/a.exe?variant_id={variant['id']} HTTP/1.1\r\nHost: t\r\n"
                               f"X-Auth-Token: {UPLOAD_TOKEN}\r\nContent-Length: 10000000\r\n\r\n".encode()
                               + EXE * 20)
            deadline = time.monotonic() + 10
            while not list((data_dir / "tmp").iterdir()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(list((data_dir / "tmp").iterdir())) == 1  # the spool the body arrives in
        assert wait_until_empty(data_dir / "tmp") == []
        assert stored_files(data_dir) == []
