"""GET /d/:id — ranges, conditional requests, counting, unpublished releases, deletes."""
import hashlib
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from fenfa_lib.models import Event, Release

from helpers import assert_error, count_calls

CONTENT = b"MZ" + bytes(range(256)) * 400


@pytest.fixture
def release(api):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="windows")
    release = api.upload_release(variant["id"], "setup.exe", CONTENT)
    return release | {"product_id": product["id"], "variant_id": variant["id"]}


def download_count(release_id):
    return Release.get_by_id(release_id).download_count


def test_full_download_has_headers_and_counts_once(client, release):
    response = client.get(f"/d/{release['id']}", headers={"User-Agent": "curl/8.0"})
    assert response.status_code == 200
    assert response.data == CONTENT
    assert response.headers["ETag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert download_count(release["id"]) == 1
    event = Event.get(Event.type == "download")
    assert (event.release_id, event.variant_id, event.product_id) == (
        release["id"], release["variant_id"], release["product_id"])
    assert (event.ip, event.user_agent) == ("127.0.0.1", "curl/8.0")


def test_the_storage_is_built_once_per_catalog_revision(api, client, release, monkeypatch):
    builds = count_calls(monkeypatch, "fenfa_lib.release_files.build_storage")
    for _ in range(3):
        assert client.get(f"/d/{release['id']}").status_code == 200
    assert len(builds) == 1
    api.data("PUT", "/admin/api/settings", json={"organization": "Example"})  # a new revision: built again
    assert client.get(f"/d/{release['id']}").status_code == 200
    assert len(builds) == 2


def test_ranges_are_byte_exact_and_only_the_whole_file_counts(client, release):
    response = client.get(f"/d/{release['id']}", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.data == CONTENT[1000:2000]
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(CONTENT)}"
    assert download_count(release["id"]) == 0
    response = client.get(f"/d/{release['id']}", headers={"Range": "bytes=0-99"})  # a probe, not a download
    assert (response.status_code, response.data) == (206, CONTENT[:100])
    assert download_count(release["id"]) == 0
    response = client.get(f"/d/{release['id']}", headers={"Range": "bytes=-10"})
    assert (response.status_code, response.data) == (206, CONTENT[-10:])
    assert download_count(release["id"]) == 0
    for whole in ("bytes=0-", f"bytes=0-{len(CONTENT) - 1}", f"bytes=0-{len(CONTENT) + 100}"):
        response = client.get(f"/d/{release['id']}", headers={"Range": whole})
        assert (response.status_code, response.data) == (206, CONTENT)
    assert download_count(release["id"]) == 3


def test_if_range_with_a_stale_etag_sends_the_whole_file(client, release):
    etag = f'"{release["sha256"]}"'
    fresh = client.get(f"/d/{release['id']}", headers={"Range": "bytes=10-19", "If-Range": etag})
    assert (fresh.status_code, fresh.data) == (206, CONTENT[10:20])
    stale = client.get(f"/d/{release['id']}", headers={"Range": "bytes=10-19", "If-Range": '"other"'})
    assert (stale.status_code, stale.data) == (200, CONTENT)
    assert download_count(release["id"]) == 1


def test_head_does_not_count(client, release):
    response = client.head(f"/d/{release['id']}")
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert download_count(release["id"]) == 0


def test_unpublished_and_unknown_releases_are_404(api, client, release):
    assert client.get("/d/rel_0000000000000000").status_code == 404
    for app_id in (release["variant_id"], release["product_id"]):
        api.data("PUT", f"/admin/api/apps/{app_id}/unpublish")
        assert_error(client.get(f"/d/{release['id']}"), 404, "NOT_FOUND")
        api.data("PUT", f"/admin/api/apps/{app_id}/publish")
    assert client.get(f"/d/{release['id']}").status_code == 200


@pytest.mark.parametrize("what", ["release", "variant", "product"])
def test_deletes_remove_rows_and_files(api, data_dir, release, what):
    target = {"release": ("releases", release["id"]), "variant": ("variants", release["variant_id"]),
              "product": ("products", release["product_id"])}[what]
    assert (data_dir / "uploads" / release["product_id"]).exists()
    assert api.data("DELETE", f"/admin/api/{target[0]}/{target[1]}") == {"deleted": target[1]}
    assert Release.select().count() == 0
    assert list((data_dir / "uploads").rglob("*")) == []
    assert api.call("GET", f"/d/{release['id']}", token="").status_code == 404


def test_events_outlive_deleted_releases(api, client, release):
    client.get(f"/d/{release['id']}")
    api.data("DELETE", f"/admin/api/products/{release['product_id']}")
    assert Event.select().where(Event.release_id == release["id"]).count() == 2


def test_concurrent_downloads_are_all_counted(app, release):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/d/{release['id']}"

    def fetch():
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == CONTENT

    try:
        workers = [threading.Thread(target=fetch) for _ in range(20)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        server.shutdown()
    assert download_count(release["id"]) == 20


@pytest.mark.parametrize("header", ["bytes=garbage", "bytes=0-9,20-29", "lines=1-2"])
def test_unusable_range_headers_get_the_whole_file(client, release, header):
    response = client.get(f"/d/{release['id']}", headers={"Range": header})
    assert (response.status_code, response.data) == (200, CONTENT)


def test_unsatisfiable_range_is_416_with_the_length(client, release):
    response = client.get(f"/d/{release['id']}", headers={"Range": f"bytes={len(CONTENT) + 10}-"})
    assert_error(response, 416, "BAD_REQUEST")
    assert response.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_errors_on_file_routes_are_json(client):
    for path in ("/d/rel_0000000000000000", "/ios/rel_0000000000000000/manifest.plist", "/admin/api"):
        assert_error(client.get(path), 404, "NOT_FOUND")


def test_wrong_method_keeps_the_allow_header(api):
    response = api.call("PATCH", "/admin/api/products")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_unusable_storage_is_a_503_in_the_envelope(client, release, monkeypatch):
    from fenfa_lib.storage import LocalStorage, StorageError

    def broken(self, key):
        raise StorageError("disk gone")

    monkeypatch.setattr(LocalStorage, "local_path", broken)
    response = client.get(f"/d/{release['id']}")
    assert_error(response, 503, "SERVICE_UNAVAILABLE", "file storage is unavailable")
    assert "disk gone" not in response.get_data(as_text=True)
