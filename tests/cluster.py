"""Two live Fenfa servers on one PostgreSQL database and one S3 bucket, for tests/test_multi_instance.py: a client
of each server (tests/live.py's, following no redirects), curl uploads and downloads, and small builders."""
import hashlib
import itertools
import json
import shutil
import subprocess
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest

from corpus import skip_or_fail
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import call, live_fenfa
from s3server import make_bucket

DELIVERY_DEADLINE = 30  # seconds; each worker polls every 2 s
names = itertools.count(1)
addresses = itertools.count(1)


class Fenfa:
    """One of the two servers, reached directly (as a load balancer would)."""

    def __init__(self, name, server):
        self.name, self.server, self.base = name, server, server.base

    def call(self, method, path, payload=None, token=ADMIN_TOKEN, client=None, headers=None, body=None):
        headers = {**(headers or {}), **({"X-Forwarded-For": client} if client else {})}
        return call(self.base, method, path, payload if payload is not None else body, token, headers,
                    follow_redirects=False)

    def data(self, method, path, payload=None, status=200, **options):
        answer = self.call(method, path, payload, **options)
        assert answer.status == status, f"{method} {path} on {self.name}: {answer.status} {answer.text()}"
        assert answer.json()["ok"] is True
        return answer.json()["data"]

    def __repr__(self):
        return f"server {self.name}"


@dataclass
class Cluster:
    a: Fenfa
    b: Fenfa
    s3: object
    bucket: str


@contextmanager
def running_cluster(postgres_server, s3_server, folder_factory):
    """Servers A and B: one PostgreSQL database, one S3 bucket (saved through A), a data dir each (in the folder
    `folder_factory(name)` makes); both trust one proxy hop and let webhooks reach loopback. B starts once A
    answers (start-up migrates the database)."""
    if shutil.which("curl") is None:
        skip_or_fail("curl not found")
    database = postgres_server.create_database()
    bucket = make_bucket(s3_server, unique("fenfa-multi"))
    settings = {"database_url": postgres_server.url(database), "admin_token": ADMIN_TOKEN,
                "upload_token": UPLOAD_TOKEN, "trusted_proxies": 1, "webhook_allow_private": "true"}
    try:
        with ExitStack() as stack:
            a, b = (Fenfa(name, stack.enter_context(live_fenfa(folder_factory(f"machine-{name}") / "data",
                                                               **settings)))
                    for name in ("A", "B"))
            a.data("PUT", "/admin/api/settings", {
                "storage_type": "s3", "s3_endpoint": s3_server.endpoint, "s3_region": s3_server.region,
                "s3_bucket": bucket, "s3_access_key": s3_server.access_key, "s3_secret_key": s3_server.secret_key})
            yield Cluster(a, b, s3_server, bucket)
    finally:
        postgres_server.drop_database(database)


# curl, as a CI job and a tester would use it.

def curl(*args):
    if shutil.which("curl") is None:
        skip_or_fail("curl not found")
    result = subprocess.run(["curl", "-sS", "--noproxy", "*", *args], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode(errors="replace")
    return result.stdout


def curl_upload(server, variant_id, path, **fields):
    form = [item for name, value in {"variant_id": variant_id, **fields}.items() for item in ("-F", f"{name}={value}")]
    answer = json.loads(curl("--fail-with-body", "-H", f"X-Auth-Token: {UPLOAD_TOKEN}", *form,
                             "-F", f"app_file=@{path}", f"{server.base}/upload"))
    assert answer["ok"] is True, answer
    return answer["data"]["release"]


def curl_download(server, release_id, target):
    """Download a build through `server` as a tester would (following the redirect to S3); returns the SHA-256."""
    written = curl("--fail", "-L", "-o", str(target), "-w", "%{http_code} %{num_redirects}",
                   f"{server.base}/d/{release_id}")
    assert written.decode() == "200 1", written  # a redirect to the bucket, then the file
    return hashlib.sha256(target.read_bytes()).hexdigest()


# Names, addresses, builds and products of a test's own.

def unique(prefix):
    return f"{prefix}-{next(names)}"


def client_address():
    """An address no other test uses, for the tests that spend a per-address budget or lockout."""
    number = next(addresses)
    return f"198.51.100.{number}" if number < 255 else pytest.fail("out of test addresses")


def windows_build(path, seed, size=256 * 1024):
    """A Windows installer of `size` bytes made from `seed`, written to `path`."""
    block = hashlib.sha256(seed.encode()).digest()
    path.write_bytes(b"MZ" + (block * (size // len(block) + 1))[:size - 2])
    return path


def make_product(server, platform="windows", identifier="setup"):
    """A product of its own with one variant, made through `server`; (product, variant)."""
    slug = unique("multi")
    product = server.data("POST", "/admin/api/products", {"name": f"Multi {slug}", "slug": slug}, status=201)["product"]
    variant = server.data("POST", f"/admin/api/products/{product['id']}/variants",
                          {"platform": platform, "display_name": platform, "identifier": identifier},
                          status=201)["variant"]
    return product, variant


def wait_until(condition, what, timeout=DELIVERY_DEADLINE, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
