"""curl against `python fenfa.py` (waitress): upload, download, ranges, HEAD and the size limit."""
import hashlib
import json
import shutil
import subprocess

import pytest

from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import running_fenfa


def curl(*args):
    if shutil.which("curl") is None:
        pytest.fail("curl is needed for the live server tests")
    result = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def curl_json(*args):
    return json.loads(curl(*args))


@pytest.fixture
def server(data_dir):
    with running_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN, max_upload_mb=2) as (base, _):
        yield base


def create_variant(base, platform, identifier):
    admin = ("-H", f"X-Auth-Token: {ADMIN_TOKEN}", "-H", "Content-Type: application/json")
    product = curl_json(*admin, "-d", '{"name": "Live", "slug": "live"}', f"{base}/admin/api/products")
    body = json.dumps({"platform": platform, "display_name": platform, "identifier": identifier})
    return curl_json(*admin, "-d", body, f"{base}/admin/api/products/{product['data']['product']['id']}/variants")[
        "data"]["variant"]


def test_curl_upload_then_download_ranges_and_head(server, tmp_path, data_dir):
    sample = require_samples() / "android-a2dpvol-localized-label.apk"
    variant = create_variant(server, "android", "a2dp.Vol")
    answer = curl_json("-H", f"X-Auth-Token: {UPLOAD_TOKEN}", "-F", f"variant_id={variant['id']}",
                       "-F", f"app_file=@{sample}", "-F", "changelog=First build", f"{server}/upload")
    assert answer["ok"] is True, answer
    release = answer["data"]["release"]
    assert release["sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert answer["data"]["urls"]["download"] == f"{server}/d/{release['id']}"

    target = tmp_path / "download.apk"
    curl("-o", str(target), answer["data"]["urls"]["download"])
    assert hashlib.sha256(target.read_bytes()).hexdigest() == release["sha256"]
    assert curl("-r", "1000-1999", answer["data"]["urls"]["download"]) == sample.read_bytes()[1000:2000]
    headers = curl("-I", answer["data"]["urls"]["download"]).decode().lower()
    assert "accept-ranges: bytes" in headers and f'etag: "{release["sha256"]}"' in headers
    assert list((data_dir / "tmp").iterdir()) == []


def test_curl_upload_over_the_limit_is_refused_and_leaves_nothing(server, tmp_path, data_dir):
    variant = create_variant(server, "windows", "setup")
    for size_mb in (2.5, 8):  # refused by Fenfa while spooling, and by waitress before Fenfa runs
        big = tmp_path / "big.exe"
        big.write_bytes(b"MZ" + b"\0" * int(size_mb * 1024 * 1024))
        answer = curl("-w", "\n%{http_code} %{content_type}", "-H", f"X-Auth-Token: {UPLOAD_TOKEN}",
                      "-F", f"variant_id={variant['id']}", "-F", f"app_file=@{big}", f"{server}/upload")
        body, status = answer.decode().rsplit("\n", 1)
        assert status == "413 application/json"
        assert json.loads(body)["error"] == {"code": "PAYLOAD_TOO_LARGE",
                                             "message": "upload is larger than the 2 MB limit"}
    assert not (data_dir / "uploads").exists() or list((data_dir / "uploads").rglob("*")) == []
    assert list((data_dir / "tmp").iterdir()) == []
