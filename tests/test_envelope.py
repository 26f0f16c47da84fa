"""Unknown paths, wrong methods and bad bodies answer in the JSON envelope."""
import pytest

from helpers import assert_error


@pytest.mark.parametrize("path", ["/admin/api/nope", "/api/nope", "/upload/nope/deeper", "/admin/api/products/x/y/z"])
def test_unknown_api_paths_are_404_in_the_envelope(api, path):
    assert_error(api.call("GET", path), 404, "NOT_FOUND", path)


def test_wrong_method_is_405_in_the_envelope(api):
    assert_error(api.call("PATCH", "/admin/api/products"), 405, "METHOD_NOT_ALLOWED")


def test_unknown_html_path_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "body,message",
    [
        (b"{not json", "valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
    ],
)
def test_bad_json_is_400(api, body, message):
    response = api.call("POST", "/admin/api/products", data=body, content_type="application/json")
    assert_error(response, 400, "BAD_REQUEST", message)


def test_healthz_reports_database_storage_and_https_warning(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json["data"]
    assert (data["status"], data["db"], data["storage"]) == ("ok", "ok", "ok")
    assert any("https" in warning for warning in data["warnings"])


def test_healthz_has_no_warning_with_an_https_primary_domain(make_app):
    app = make_app(primary_domain="https://apps.example.com/")
    assert app.test_client().get("/healthz").json["data"]["warnings"] == []


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"name": "x", "slug": "y", "description": "\\ud800"}',
        b'{"name": NaN, "slug": "y"}',
        b'{"name": "x", "slug": "y", "sort_order": Infinity}',
        b"\xff\xfe\x00",
    ],
)
def test_hostile_json_is_a_400_not_a_500(api, body):
    response = api.call("POST", "/admin/api/products", data=body, content_type="application/json")
    assert_error(response, 400, "BAD_REQUEST")


def test_json_bodies_are_capped(api):
    body = b'{"name": "x", "slug": "y", "description": "' + b"a" * (1024 * 1024) + b'"}'
    assert_error(api.call("POST", "/admin/api/products", data=body, content_type="application/json"),
                 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01T00:00:00%2B14:00", "from=2026-13-01",
                                   "to=yesterday"])
@pytest.mark.parametrize("path", ["/admin/api/events", "/admin/api/ios_devices", "/admin/exports/events.csv",
                                  "/admin/exports/releases.csv"])
def test_out_of_range_dates_are_a_400(api, path, query):
    assert_error(api.call("GET", f"{path}?{query}"), 400, "BAD_REQUEST")


def test_healthz_is_503_without_server_details_when_storage_is_unusable(client, data_dir):
    (data_dir / "uploads").write_text("not a folder")
    response = client.get("/healthz")
    assert_error(response, 503, "SERVICE_UNAVAILABLE", "storage unavailable")
    assert str(data_dir) not in response.get_data(as_text=True)
