"""A real waitress server under concurrent load: parallel uploads to one variant, parallel downloads of one release
and a CSV export, all at once; every answer right, every download counted once, and no lock error in the log."""
import csv
import hashlib
import http.client
import io
import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import live_fenfa

UPLOADS = 8
DOWNLOADS = 32
BUILD_BYTES = 256 * 1024
TIMEOUT = 30


def request(base, method, path, body=None, headers=None):
    """(status, headers, body bytes) of one request on a connection of its own."""
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def admin_json(base, method, path, body=None):
    status, _, answer = request(base, method, path, json.dumps(body).encode() if body is not None else None,
                                {"X-Auth-Token": ADMIN_TOKEN, "Content-Type": "application/json"})
    assert status in (200, 201), answer
    return json.loads(answer)["data"]


def multipart(fields, file_name, content):
    """(body, content type) of a multipart/form-data form with `fields` and one file as app_file."""
    boundary = f"----fenfa-{uuid.uuid4().hex}"
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="app_file"; filename="{file_name}"\r\n'
               "Content-Type: application/octet-stream\r\n\r\n".encode())
    body.write(content)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload(base, variant_id, index, content):
    body, content_type = multipart({"variant_id": variant_id, "changelog": f"build {index}"}, f"setup-{index}.exe",
                                   content)
    status, _, answer = request(base, "POST", "/upload", body,
                                {"X-Auth-Token": UPLOAD_TOKEN, "Content-Type": content_type})
    return status, answer


def download(base, release_id):
    status, _, body = request(base, "GET", f"/d/{release_id}")
    return status, hashlib.sha256(body).hexdigest()


def export_events(base, query=""):
    status, headers, body = request(base, "GET", f"/admin/exports/events.csv{query}",
                                    headers={"X-Auth-Token": ADMIN_TOKEN})
    return status, headers.get("Content-Type", ""), body


def build(index):
    """A small windows build of its own: MZ, then bytes no other build has."""
    return b"MZ" + hashlib.sha256(f"build {index}".encode()).digest() + os.urandom(BUILD_BYTES - 34)


@pytest.fixture
def server(data_dir):
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN, max_upload_mb=8) as live:
        yield live


def test_parallel_uploads_downloads_and_export_on_a_live_server(server):
    base = server.base
    product = admin_json(base, "POST", "/admin/api/products", {"name": "Load", "slug": "load"})["product"]
    variant = admin_json(base, "POST", f"/admin/api/products/{product['id']}/variants",
                         {"platform": "windows", "display_name": "Windows", "identifier": "load"})["variant"]
    status, answer = upload(base, variant["id"], "first", build("first"))
    assert status == 201, answer
    release = json.loads(answer)["data"]["release"]

    builds = [build(index) for index in range(UPLOADS)]
    start = threading.Barrier(UPLOADS + DOWNLOADS + 1)

    def at_once(call, *args):
        start.wait(timeout=TIMEOUT)
        return call(*args)

    with ThreadPoolExecutor(max_workers=UPLOADS + DOWNLOADS + 1) as pool:
        uploads = [pool.submit(at_once, upload, base, variant["id"], index, content)
                   for index, content in enumerate(builds)]
        downloads = [pool.submit(at_once, download, base, release["id"]) for _ in range(DOWNLOADS)]
        export = pool.submit(at_once, export_events, base)
        upload_answers = [future.result(timeout=TIMEOUT) for future in uploads]
        download_answers = [future.result(timeout=TIMEOUT) for future in downloads]
        export_status, export_type, export_body = export.result(timeout=TIMEOUT)

    assert [status for status, _ in upload_answers] == [201] * UPLOADS, upload_answers
    uploaded = [json.loads(answer)["data"]["release"] for _, answer in upload_answers]
    assert [item["sha256"] for item in uploaded] == [hashlib.sha256(content).hexdigest() for content in builds]
    assert download_answers == [(200, release["sha256"])] * DOWNLOADS
    assert export_status == 200, export_body
    assert export_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export_body.decode("utf-8-sig"), newline="")))
    assert rows and all(row["type"] in ("visit", "click", "download", "upload") for row in rows)

    stats = admin_json(base, "GET", f"/admin/api/variants/{variant['id']}/stats")
    counts = {item["id"]: item["download_count"] for item in stats["releases"]}
    assert counts[release["id"]] == DOWNLOADS
    assert stats["totals"]["downloads"] == DOWNLOADS
    assert stats["totals"]["releases"] == 1 + UPLOADS
    assert sorted(counts) == sorted([release["id"], *(item["id"] for item in uploaded)])
    status, _, body = export_events(base, "?type=download")
    assert status == 200
    downloads = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert [row["release_id"] for row in downloads] == [release["id"]] * DOWNLOADS
    log = server.log()
    assert "database is locked" not in log
    assert "Traceback" not in log
