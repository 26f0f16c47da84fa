"""Fenfa behind the repo's own deploy/nginx.conf, with TLS: https links, the real client address and
per-client budgets, a 20 MB upload, downloads and accelerated downloads."""
import hashlib
import http.client
import json
import ssl
import subprocess

import pytest

from fenfa_lib.web.budget import BUDGETS_PER_MINUTE

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import live_fenfa
from nginx import running_nginx

UPLOAD_MB = 20


@pytest.fixture
def behind_nginx(data_dir, tmp_path, request):
    """(https base URL, certificate, data dir) of Fenfa behind nginx, trusting that one proxy hop."""
    settings = {"admin_token": ADMIN_TOKEN, "upload_token": UPLOAD_TOKEN, "trusted_proxies": 1, **request.param}
    with live_fenfa(data_dir, **settings) as server, running_nginx(tmp_path / "nginx", server.port, data_dir) as (
            base, cert):
        yield base, cert


def curl(base, cert, path, *args, source="127.0.0.2"):
    """curl over TLS to nginx from the loopback address `source`, so Fenfa's view of the client shows."""
    result = subprocess.run(["curl", "-sS", "-4", "--cacert", str(cert), "--interface", source, *args, base + path],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def admin(base, cert, method, path, body=None):
    args = ["-X", method, "-H", f"X-Auth-Token: {ADMIN_TOKEN}", "-H", "Content-Type: application/json"]
    return json.loads(curl(base, cert, path, *args, *(["-d", json.dumps(body)] if body else [])))["data"]


def windows_build(base, cert, tmp_path, size):
    product = admin(base, cert, "POST", "/admin/api/products", {"name": "Proxied", "slug": "proxied"})["product"]
    variant = admin(base, cert, "POST", f"/admin/api/products/{product['id']}/variants",
                    {"platform": "windows", "display_name": "Windows", "identifier": "com.example.proxied"})["variant"]
    build = tmp_path / "setup.exe"
    build.write_bytes(b"MZ" + bytes(range(256)) * (size // 256))
    answer = json.loads(curl(base, cert, "/upload", "-H", f"X-Auth-Token: {UPLOAD_TOKEN}",
                             "-F", f"variant_id={variant['id']}", "-F", f"app_file=@{build}"))
    assert answer["ok"], answer
    return answer["data"], build.read_bytes()


@pytest.mark.parametrize("behind_nginx", [{}], indirect=True)
def test_a_raw_put_upload_goes_through_nginx(behind_nginx, tmp_path):
    base, cert = behind_nginx
    upload, _ = windows_build(base, cert, tmp_path, 4096)
    build = tmp_path / "next.exe"
    build.write_bytes(b"MZ" + bytes(range(256)) * 4096)
    answer = json.loads(curl(base, cert, f"/upload/next.exe?variant_id={upload['app']['variant_id']}&version=2.0",
                             "-H", f"X-Auth-Token: {UPLOAD_TOKEN}", "-T", str(build)))
    assert answer["ok"], answer
    release = answer["data"]["release"]
    assert (release["version"], release["size_bytes"]) == ("2.0", build.stat().st_size)
    assert release["sha256"] == hashlib.sha256(build.read_bytes()).hexdigest()


def events(base, cert, event_type):
    return admin(base, cert, "GET", f"/admin/api/events?type={event_type}")["items"]


@pytest.mark.parametrize("behind_nginx", [{}], indirect=True)
def test_through_nginx_links_are_https_and_clients_are_real(behind_nginx, tmp_path):
    base, cert = behind_nginx
    upload, content = windows_build(base, cert, tmp_path, UPLOAD_MB * 1024 * 1024)
    assert upload["release"]["size_bytes"] == len(content)
    assert upload["release"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert upload["urls"]["page"] == f"{base}/products/proxied"
    assert upload["urls"]["download"] == f"{base}/d/{upload['release']['id']}"
    page = json.loads(curl(base, cert, "/api/products/proxied"))["data"]
    assert page["urls"]["page"] == f"{base}/products/proxied"
    assert admin(base, cert, "GET", "/admin/api/settings")["warnings"] == []

    downloaded = curl(base, cert, f"/d/{upload['release']['id']}")
    assert hashlib.sha256(downloaded).hexdigest() == upload["release"]["sha256"]
    assert curl(base, cert, f"/d/{upload['release']['id']}", "-H", "Range: bytes=100-199") == content[100:200]
    assert [event["ip"] for event in events(base, cert, "upload")] == ["127.0.0.2"]
    assert [event["ip"] for event in events(base, cert, "download")] == ["127.0.0.2"]


def post_events(base, cert, source, count, variant_id):
    """The statuses of `count` POST /events sent over one TLS connection from `source`."""
    context = ssl.create_default_context(cafile=str(cert))
    host, port = base.removeprefix("https://").split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=context, source_address=(source, 0))
    body = json.dumps({"type": "click", "variant_id": variant_id})
    statuses = []
    for _ in range(count):
        connection.request("POST", "/events", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    return statuses


@pytest.mark.parametrize("behind_nginx", [{}], indirect=True)
def test_each_client_behind_nginx_has_its_own_anonymous_budget(behind_nginx, tmp_path):
    base, cert = behind_nginx
    upload, _ = windows_build(base, cert, tmp_path, 4096)
    variant_id = upload["app"]["variant_id"]
    budget = BUDGETS_PER_MINUTE["events"]
    assert post_events(base, cert, "127.0.0.3", budget + 1, variant_id) == [201] * budget + [429]
    assert post_events(base, cert, "127.0.0.4", 3, variant_id) == [201] * 3
    assert {event["ip"] for event in events(base, cert, "click")} == {"127.0.0.3", "127.0.0.4"}


@pytest.mark.parametrize("behind_nginx", [{"accel_redirect": "/_fenfa_files/"}], indirect=True)
def test_accelerated_downloads_are_sent_by_nginx_and_counted_by_fenfa(behind_nginx, tmp_path):
    base, cert = behind_nginx
    upload, content = windows_build(base, cert, tmp_path, 2 * 1024 * 1024)
    release = upload["release"]
    headers = curl(base, cert, f"/d/{release['id']}", "-D", "-", "-o", str(tmp_path / "got.exe")).decode().lower()
    assert (tmp_path / "got.exe").read_bytes() == content
    assert "x-accel-redirect" not in headers
    assert 'content-disposition: attachment; filename="setup.exe"' in headers
    assert f'etag: "{release["sha256"]}"' in headers
    assert curl(base, cert, f"/d/{release['id']}", "-H", "Range: bytes=1-10") == content[1:11]
    not_modified = curl(base, cert, f"/d/{release['id']}", "-H", f'If-None-Match: "{release["sha256"]}"',
                        "-o", "/dev/null", "-w", "%{http_code}")
    assert not_modified == b"304"
    assert curl(base, cert, "/_fenfa_files/", "-o", "/dev/null", "-w", "%{http_code}") == b"404"
    stats = admin(base, cert, "GET", f"/admin/api/variants/{upload['app']['variant_id']}/stats")
    assert stats["totals"]["downloads"] == 1
