"""`python fenfa.py` as operators run it: slow and idle clients, bodies refused before they are stored,
forwarded headers, access logs, start-up errors, file modes and the version."""
import json
import re
import socket
import stat
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from fenfa_lib import __version__

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import REPO, fenfa_command, free_port, live_fenfa
from live import call as live_call

TOKENS = {"admin_token": ADMIN_TOKEN, "upload_token": UPLOAD_TOKEN}
BIG_FILE_MB = 48  # past waitress's 16 MiB output high-water mark and every socket buffer


def call(server, method, path, body=None, token=ADMIN_TOKEN, headers=None, timeout=10):
    """(status, parsed JSON or raw bytes) of one request."""
    answer = live_call(server.base, method, path, body, token, headers, timeout=timeout)
    try:
        return answer.status, answer.json()
    except ValueError:
        return answer.status, answer.body


def upload_file(server, tmp_path, name, size, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN):
    """A published windows release of `size` bytes, uploaded with curl; the release, with its variant_id."""
    _, product = call(server, "POST", "/admin/api/products", {"name": "Big", "slug": "big"}, admin_token)
    _, variant = call(server, "POST", f"/admin/api/products/{product['data']['product']['id']}/variants",
                      {"platform": "windows", "display_name": "Windows", "identifier": "com.example.big"}, admin_token)
    path = tmp_path / name
    with open(path, "wb") as handle:
        handle.write(b"MZ")
        handle.truncate(size)
    result = subprocess.run(
        ["curl", "-sS", "-H", f"X-Auth-Token: {upload_token}", "-F", f"variant_id={variant['data']['variant']['id']}",
         "-F", f"app_file=@{path}", f"{server.base}/upload"], capture_output=True, timeout=120, check=True)
    answer = json.loads(result.stdout)["data"]
    return {**answer["release"], "variant_id": answer["app"]["variant_id"]}


def healthz_seconds(server):
    started = time.monotonic()
    status, body = call(server, "GET", "/healthz", timeout=10)
    assert status == 200 and body["data"]["status"] == "ok"
    return time.monotonic() - started


def raw_connection(server, receive_buffer=None):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if receive_buffer:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    return connection


def test_healthz_answers_while_32_connections_read_big_files_slowly(data_dir, tmp_path):
    with live_fenfa(data_dir, **TOKENS) as server, ExitStack() as stack:
        release = upload_file(server, tmp_path, "big.exe", BIG_FILE_MB * 1024 * 1024)
        for number in range(32):
            connection = stack.enter_context(raw_connection(server, receive_buffer=4096))
            ranged = "Range: bytes=1-\r\n" if number % 2 else ""
            connection.sendall(f"GET /d/{release['id']} HTTP/1.1\r\nHost: t\r\n{ranged}\r\n".encode())
            assert connection.recv(64).startswith(b"HTTP/1.1 20")  # the answer began; nobody reads on
        time.sleep(1)
        assert healthz_seconds(server) < 1
        _, stats = call(server, "GET", f"/admin/api/variants/{release['variant_id']}/stats")
        assert stats["data"]["totals"]["downloads"] == 16  # the ranges from byte 1 do not count


def test_healthz_answers_while_300_idle_connections_are_open(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server, ExitStack() as stack:
        for _ in range(300):
            connection = stack.enter_context(raw_connection(server))
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # and never the rest of the headers
        time.sleep(0.5)
        assert healthz_seconds(server) < 1


def send_headers(server, path, content_length, token=None, expect_continue=False):
    """A connection that sent a POST's headers, then stalls before the body (had it sent some, the server's
    close after its answer could reset the connection before the client read that answer)."""
    connection = raw_connection(server)
    lines = [f"POST {path} HTTP/1.1", "Host: t", f"Content-Length: {content_length}",
             "Content-Type: multipart/form-data; boundary=x"]
    lines += [f"X-Auth-Token: {token}"] if token else []
    lines += ["Expect: 100-continue"] if expect_continue else []
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return connection


def answer_of(connection):
    """(status, JSON body) the server sent on a raw connection before closing it."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("token,expect_continue,message", [
    (None, False, "X-Auth-Token header is required"),
    ("not-a-token", False, "invalid token"),
    (None, True, "X-Auth-Token header is required"),
], ids=["no-token", "bad-token", "expect-100-continue"])
def test_stalled_anonymous_uploads_are_refused_before_any_byte_is_stored(data_dir, token, expect_continue, message):
    with live_fenfa(data_dir, **TOKENS) as server, ExitStack() as stack:
        connections = [stack.enter_context(send_headers(server, path, 50 * 1024 * 1024, token, expect_continue))
                       for path in ("/upload", "/admin/api/smart-upload", "/admin/api/parse-app") * 4][:10]
        for connection in connections:
            assert answer_of(connection) == (401, {"ok": False, "error": {"code": "UNAUTHORIZED", "message": message}})
        assert list((data_dir / "tmp").iterdir()) == []
        assert healthz_seconds(server) < 1


@pytest.mark.parametrize("path", ["/events", "/admin/api/products", "/udid/callback?nonce=x", "/no-such-route"])
def test_large_bodies_on_other_routes_are_413_before_they_are_read(data_dir, path):
    with live_fenfa(data_dir, **TOKENS) as server, send_headers(server, path, 64 * 1024 + 1, ADMIN_TOKEN) as sent:
        status, body = answer_of(sent)
        assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
        assert "at most 65536 bytes" in body["error"]["message"]
        assert list((data_dir / "tmp").iterdir()) == []


def test_chunked_bodies_on_other_routes_stop_at_64_kib(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server, raw_connection(server) as connection:
        connection.sendall(b"POST /admin/api/products HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                           b"X-Auth-Token: " + ADMIN_TOKEN.encode() + b"\r\n\r\n")
        for chunk in [b"a" * 8192] * 8 + [b"a"]:  # one byte past the limit, then the client waits
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, body = answer_of(connection)
        assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_a_client_that_sends_a_refused_body_whole_still_reads_the_refusal(data_dir):
    """The server half-closes and drops what still arrives instead of resetting the connection (lingering close),
    so a client that sends its whole body before it reads, as a plain `curl -T` without Expect does, gets the
    413 and its reason."""
    with live_fenfa(data_dir, max_upload_mb=1, **TOKENS) as server, raw_connection(server) as connection:
        body = b"x" * (4 * 1024 * 1024)
        connection.sendall(b"PUT /upload/setup.exe HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                           b"X-Auth-Token: %s\r\n\r\n" % (len(body), UPLOAD_TOKEN.encode()) + body)
        status, answer = answer_of(connection)
    assert (status, answer["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert "1 MB limit" in answer["error"]["message"]


def test_forwarded_headers_of_a_trusted_proxy_reach_the_app(data_dir):
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "apps.example.com", "X-Forwarded-Port": "443"}
    with live_fenfa(data_dir, trusted_proxies=1, **TOKENS) as server:
        call(server, "POST", "/admin/api/products", {"name": "Proxied", "slug": "proxied"})
        status, page = call(server, "GET", "/api/products/proxied", headers=forwarded)
        assert status == 200
        assert page["data"]["urls"]["page"] == "https://apps.example.com/products/proxied"
        status, health = call(server, "GET", "/healthz", headers=forwarded)
        assert health["data"]["warnings"] == []
        with urllib.request.urlopen(urllib.request.Request(server.base + "/products/proxied", headers=forwarded)):
            pass
        _, events = call(server, "GET", "/admin/api/events?type=visit")
        assert [event["ip"] for event in events["data"]["items"]] == ["203.0.113.9"]


def test_untrusted_forwarded_headers_are_ignored(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server:
        call(server, "POST", "/admin/api/products", {"name": "Direct", "slug": "direct"})
        _, page = call(server, "GET", "/api/products/direct", headers={"X-Forwarded-Proto": "https",
                                                                        "X-Forwarded-Host": "evil.example"})
        assert page["data"]["urls"]["page"] == f"{server.base}/products/direct"


def test_every_request_gets_one_access_log_line(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server:
        call(server, "GET", "/healthz?probe=1")
        call(server, "GET", "/admin/api/products", token="wrong")
        with send_headers(server, "/upload", 10 * 1024 * 1024) as refused:
            answer_of(refused)
        time.sleep(0.2)
        lines = [line for line in server.log().splitlines() if "fenfa.access" in line]
    assert [line for line in lines if re.search(r"fenfa.access: 127\.0\.0\.1 GET /healthz 200 \d+ \d+ms$", line)]
    assert not [line for line in lines if "probe=1" in line]  # no query strings: they may carry tokens
    assert any(" GET /admin/api/products 401 " in line for line in lines)
    assert any(" POST /upload 401 " in line for line in lines)


def test_waitress_says_its_task_queue_is_deep_once_a_minute_not_for_every_request(data_dir):
    with live_fenfa(data_dir, threads=1, **TOKENS) as server:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: call(server, "GET", "/healthz")[0], range(64)))
        time.sleep(0.2)
        depth_lines = [line for line in server.log().splitlines() if "Task queue depth" in line]
    assert statuses == [200] * 64
    assert len(depth_lines) == 1


def test_json_logs_carry_the_access_fields_and_the_upload(data_dir, tmp_path):
    with live_fenfa(data_dir, log_format="json", **TOKENS) as server:
        release = upload_file(server, tmp_path, "setup.exe", 4096)
        time.sleep(0.2)
        records = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    access = [record for record in records if record["logger"] == "fenfa.access" and record["path"] == "/upload"]
    assert access and (access[0]["method"], access[0]["status"], access[0]["client"]) == ("POST", 201, "127.0.0.1")
    assert isinstance(access[0]["ms"], int) and access[0]["bytes"] > 0
    uploads = [record for record in records if record.get("event") == "upload"]
    assert uploads and uploads[0]["release_id"] == release["id"] and uploads[0]["size_bytes"] == 4096


def test_data_files_are_0600_and_folders_0700(data_dir, tmp_path):
    with live_fenfa(data_dir) as server:  # no tokens configured: the server writes tokens.json
        tokens = json.loads((data_dir / "tokens.json").read_text())
        release = upload_file(server, tmp_path, "setup.exe", 4096, tokens["admin_token"], tokens["upload_token"])
        with urllib.request.urlopen(f"{server.base}/d/{release['id']}") as response:
            response.read()
        paths = [data_dir, *data_dir.rglob("*")]
    assert {path.name for path in paths} >= {"fenfa.db", "tokens.json", "setup.exe", "meta.json"}
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_accelerated_downloads_keep_uploads_readable_for_the_web_servers_group(data_dir, tmp_path):
    with live_fenfa(data_dir, accel_redirect="/_fenfa_files/", **TOKENS) as server:
        release = upload_file(server, tmp_path, "setup.exe", 4096)
    stored = next((data_dir / "uploads").rglob("setup.exe"))
    assert stat.S_IMODE(stored.stat().st_mode) == 0o640
    for folder in [stored.parent, *stored.parent.parents][:5]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder
    assert stat.S_IMODE((data_dir / "fenfa.db").stat().st_mode) == 0o600
    assert release["size_bytes"] == 4096


def run_fenfa(data_dir, *arguments, **settings):
    argv, env = fenfa_command(data_dir, *arguments, **settings)
    return subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def assert_one_line_failure(result, message):
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("fenfa: ") and message in result.stderr, result.stderr


def test_a_missing_config_file_is_a_one_line_error(data_dir, tmp_path):
    argv, env = fenfa_command(data_dir)
    env["FENFA_CONFIG"] = str(tmp_path / "typo.json")
    result = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert_one_line_failure(result, "typo.json: no such configuration file")
    assert not data_dir.exists()


def test_a_port_in_use_is_a_one_line_error(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_fenfa(data_dir, "--host", "127.0.0.1", "--port", str(port), **TOKENS)
    assert_one_line_failure(result, "cannot listen on the configured host and port: Address already in use")


def test_an_unusable_data_dir_is_a_one_line_error(tmp_path):
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data dir should be")
    result = run_fenfa(not_a_folder, "--port", str(free_port()), **TOKENS)
    assert_one_line_failure(result, f"data_dir {not_a_folder} is not usable")


@pytest.mark.parametrize("setting,value,message", [
    ("threads", "0", "threads must be positive"),
    ("log_format", "xml", "log_format must be one of: text, json"),
    ("accel_redirect", "no-slashes", "accel_redirect must be a path"),
])
def test_bad_serving_settings_are_one_line_errors(data_dir, setting, value, message):
    assert_one_line_failure(run_fenfa(data_dir, **{setting: value}), message)


def test_a_relative_data_dir_is_relative_to_the_config_file(tmp_path):
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"data_dir": "state", **TOKENS}))
    argv, env = fenfa_command(tmp_path / "unused", "backup", str(tmp_path / "out.tar"))
    env["FENFA_CONFIG"] = str(config_dir / "config.json")
    del env["FENFA_DATA_DIR"]
    result = subprocess.run(argv, env=env, cwd="/", capture_output=True, text=True, timeout=60)
    assert_one_line_failure(result, f"{config_dir / 'state' / 'fenfa.db'} does not exist")


def test_version_on_the_command_line_and_in_healthz(data_dir):
    result = run_fenfa(data_dir, "--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"fenfa {__version__}")
    with live_fenfa(data_dir, **TOKENS) as server:
        assert call(server, "GET", "/healthz")[1]["data"]["version"] == __version__


def test_a_made_up_session_cookie_does_not_get_an_upload_body_read(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server, raw_connection(server) as connection:
        connection.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 52428800\r\n"
                           b"Content-Type: multipart/form-data; boundary=x\r\nCookie: session=forged.cookie.value\r\n"
                           b"X-CSRF-Token: whatever\r\n\r\n")
        assert answer_of(connection) == (401, {"ok": False, "error": {"code": "UNAUTHORIZED",
                                                                       "message": "X-Auth-Token header is required"}})


def test_a_locked_out_address_is_told_when_to_come_back_before_any_body_is_read(data_dir):
    with live_fenfa(data_dir, **TOKENS) as server:
        for _ in range(10):
            with send_headers(server, "/upload", 1024, token="guess") as connection:
                answer_of(connection)
        with send_headers(server, "/upload", 1024, token="guess") as connection:
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
    head = received.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 429") and re.search(r"Retry-After: [1-6]\d?\r?$", head, re.M | re.I)
