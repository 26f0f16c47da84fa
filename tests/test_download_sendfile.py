"""Files sent by os.sendfile from `python fenfa.py`: exact bytes for whole files, ranges and HEAD, on kept-alive
connections; exact access-log byte counts and download counts; clients that leave mid-download; a file cut short
on disk; and bodies that are not files keep waitress's own path."""
import hashlib
import http.client
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from corpus import require_samples
from helpers import ADMIN_TOKEN
from live import REPO, live_fenfa
from live import call as live_call

MIB = 1024 * 1024
SIZE = 24 * MIB + 12345  # several socket buffers' worth, and no multiple of any block size
CONTENT = b"MZ" + random.Random(14).randbytes(SIZE - 2)


def api(server, method, path, body=None):
    return live_call(server.base, method, path, body, ADMIN_TOKEN, timeout=10).json()["data"]


def upload(server, folder, slug, file_name, content, platform="windows", identifier="com.example.build"):
    """The release of `content`, uploaded with curl into a new product; with the path of its stored file."""
    product = api(server, "POST", "/admin/api/products", {"name": slug, "slug": slug})["product"]
    variant = api(server, "POST", f"/admin/api/products/{product['id']}/variants",
                  {"platform": platform, "display_name": platform, "identifier": identifier})["variant"]
    source = folder / file_name
    source.write_bytes(content)
    answer = subprocess.run(["curl", "-sS", "--fail", "-H", f"X-Auth-Token: {ADMIN_TOKEN}", "-F",
                             f"variant_id={variant['id']}", "-F", f"app_file=@{source}", f"{server.base}/upload"],
                            capture_output=True, timeout=60, check=True).stdout
    release = json.loads(answer)["data"]["release"]
    stored = folder / "data" / "uploads" / product["id"] / variant["id"] / release["id"] / file_name
    return {**release, "variant_id": variant["id"], "stored": stored}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("sendfile")


@pytest.fixture(scope="module")
def server(work):
    with live_fenfa(work / "data", admin_token=ADMIN_TOKEN, max_upload_mb=64, log_format="json") as live:
        yield live


@pytest.fixture(scope="module")
def release(server, work):
    return upload(server, work, "big", "build.exe", CONTENT)


def written_by(pid):
    """Bytes the process has written through write() and sendfile() (not socket send()): /proc/PID/io wchar."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise KeyError("wchar")


def eventually(condition, timeout=10):
    """Whether `condition()` became true within `timeout` seconds (what the server does after the client has
    its bytes, it may finish a moment later)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def open_handles(pid, path):
    return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.path.realpath(fd) == str(path.resolve()))


RANGES = [
    (None, 200, 0, SIZE),
    ("bytes=0-", 206, 0, SIZE),
    ("bytes=1000-1999", 206, 1000, 2000),
    ("bytes=7-7", 206, 7, 8),
    ("bytes=-10", 206, SIZE - 10, SIZE),
    ("bytes=-5000000", 206, SIZE - 5_000_000, SIZE),
    (f"bytes={SIZE - 1}-", 206, SIZE - 1, SIZE),
    (f"bytes={SIZE - 9 * MIB}-{SIZE + 99}", 206, SIZE - 9 * MIB, SIZE),
    (f"bytes={3 * MIB + 1}-{13 * MIB}", 206, 3 * MIB + 1, 13 * MIB + 1),
]


@pytest.mark.parametrize("range_header,status,start,stop", RANGES, ids=[str(row[0]) for row in RANGES])
def test_whole_files_and_ranges_are_byte_exact(server, release, range_header, status, start, stop):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", f"/d/{release['id']}", headers={"Range": range_header} if range_header else {})
    response = connection.getresponse()
    body = response.read()
    assert response.status == status
    assert int(response.headers["Content-Length"]) == stop - start
    assert body == CONTENT[start:stop]
    if status == 206:
        assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{SIZE}"
    connection.close()


@pytest.mark.parametrize("range_header", [None, "bytes=-5000000", f"bytes={3 * MIB + 1}-{13 * MIB}"])
def test_the_bytes_go_through_sendfile(server, release, range_header):
    written_before = written_by(server.process.pid)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", f"/d/{release['id']}", headers={"Range": range_header} if range_header else {})
    length = len(connection.getresponse().read())
    connection.close()
    # A body copied through Python reaches the socket by send(), which wchar does not count.
    assert eventually(lambda: written_by(server.process.pid) - written_before >= length)


def test_head_and_ranges_on_one_kept_alive_connection(server, release):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    answers = []
    for method, range_header in [("HEAD", None), ("GET", "bytes=-100"), ("HEAD", "bytes=5-9"), ("GET", None),
                                 ("GET", "bytes=100-199")]:
        connection.request(method, f"/d/{release['id']}", headers={"Range": range_header} if range_header else {})
        response = connection.getresponse()
        answers.append((response.status, response.headers["Content-Length"], response.read()))
        assert not response.will_close
    connection.close()
    assert answers == [(200, str(SIZE), b""), (206, "100", CONTENT[-100:]), (206, "5", b""), (200, str(SIZE), CONTENT),
                       (206, "100", CONTENT[100:200])]


def test_concurrent_downloads_are_exact_counted_and_logged(server, work):
    release = upload(server, work, "counted", "counted.exe", CONTENT[:3 * MIB])
    digests = []

    def fetch():
        with urllib.request.urlopen(f"{server.base}/d/{release['id']}", timeout=30) as response:
            digests.append(hashlib.sha256(response.read()).hexdigest())

    workers = [threading.Thread(target=fetch) for _ in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with urllib.request.urlopen(urllib.request.Request(f"{server.base}/d/{release['id']}",
                                                       headers={"Range": "bytes=10-1009"}), timeout=30) as response:
        assert response.read() == CONTENT[10:1010]
    assert digests == [release["sha256"]] * 16
    stats = api(server, "GET", f"/admin/api/variants/{release['variant_id']}/stats")
    assert stats["totals"]["downloads"] == 16

    def logged():
        return [(record["status"], record["bytes"]) for record in map(json.loads, server.log().splitlines()[1:])
                if record.get("logger") == "fenfa.access" and record["path"] == f"/d/{release['id']}"]

    assert eventually(lambda: len(logged()) == 17)
    assert sorted(logged()) == [(200, 3 * MIB)] * 16 + [(206, 1000)]


def leave(connection, how):
    if how == "reset":  # an RST instead of a FIN: the next send fails with ECONNRESET or EPIPE
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


@pytest.mark.parametrize("range_header", [None, "bytes=1000-"])
@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_client_that_leaves_mid_download_frees_the_file_and_breaks_nothing(server, release, how, range_header):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    ranged = f"Range: {range_header}\r\n" if range_header else ""
    connection.sendall(f"GET /d/{release['id']} HTTP/1.1\r\nHost: t\r\n{ranged}\r\n".encode())
    assert connection.recv(65536).startswith(b"HTTP/1.1 20")
    assert open_handles(server.process.pid, release["stored"]) == 1  # under way: it cannot fit in the buffers
    leave(connection, how)
    assert eventually(lambda: open_handles(server.process.pid, release["stored"]) == 0)
    with urllib.request.urlopen(f"{server.base}/d/{release['id']}", timeout=30) as response:
        assert response.read() == CONTENT
    with urllib.request.urlopen(f"{server.base}/healthz", timeout=10) as response:
        assert response.status == 200


def test_a_file_cut_short_on_disk_ends_the_answer_instead_of_hanging(server, work):
    release = upload(server, work, "cut", "cut.exe", CONTENT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"GET /d/{release['id']} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        received = connection.recv(65536)  # the rest of the file cannot fit in the sockets' buffers
        os.truncate(release["stored"], MIB)
        while chunk := connection.recv(MIB):  # a server waiting for the missing bytes would time this out
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert f"Content-Length: {SIZE}".encode() in head
    assert len(body) < SIZE and CONTENT.startswith(body[:MIB])
    assert eventually(lambda: open_handles(server.process.pid, release["stored"]) == 0)


def test_static_files_and_in_memory_bodies_are_exact(server, work):
    sample = require_samples() / "android-a2dpvol-localized-label.apk"
    release = upload(server, work, "icon", "a2dpvol.apk", sample.read_bytes(), "android", "a2dp.Vol")
    with urllib.request.urlopen(f"{server.base}/static/style.css", timeout=10) as response:
        assert response.read() == (REPO / "static" / "style.css").read_bytes()
    with urllib.request.urlopen(f"{server.base}/icons/{release['id']}.png", timeout=10) as response:
        icon = response.read()  # sent from memory (a BytesIO), by waitress's own path
    assert icon.startswith(b"\x89PNG") and len(icon) == int(response.headers["Content-Length"])
