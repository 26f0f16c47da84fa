"""Every admin route answers 401 without a known token, 403 for an upload token, 2xx for admin."""
import pytest

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error

ADMIN_ROUTES = [
    ("GET", "/admin/api/products"),
    ("POST", "/admin/api/products"),
    ("GET", "/admin/api/products/{product}"),
    ("PUT", "/admin/api/products/{product}"),
    ("DELETE", "/admin/api/products/{product}"),
    ("POST", "/admin/api/products/{product}/variants"),
    ("PUT", "/admin/api/variants/{variant}"),
    ("DELETE", "/admin/api/variants/{variant}"),
    ("GET", "/admin/api/variants/{variant}/stats"),
    ("PUT", "/admin/api/apps/{variant}/publish"),
    ("PUT", "/admin/api/apps/{product}/unpublish"),
    ("GET", "/admin/api/settings"),
    ("PUT", "/admin/api/settings"),
    ("GET", "/admin/api/upload-config"),
    ("GET", "/admin/api/events"),
    ("GET", "/admin/api/ios_devices"),
    ("GET", "/admin/exports/releases.csv"),
    ("GET", "/admin/exports/events.csv"),
    ("GET", "/admin/exports/ios_devices.csv"),
    ("DELETE", "/admin/api/releases/{release}"),
]
BODIES = {
    ("POST", "/admin/api/products"): {"name": "Other", "slug": "other"},
    ("PUT", "/admin/api/products/{product}"): {"description": "changed"},
    ("POST", "/admin/api/products/{product}/variants"): {
        "platform": "ios", "display_name": "iPhone", "identifier": "com.example.ios",
    },
    ("PUT", "/admin/api/variants/{variant}"): {"display_name": "Phones"},
    ("PUT", "/admin/api/settings"): {"organization": "Example Ltd"},
}


@pytest.fixture
def ids(api):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="windows")
    release = api.upload_release(variant["id"], "setup.exe", b"MZ" + b"\0" * 64)
    return {"product": product["id"], "variant": variant["id"], "release": release["id"]}


@pytest.mark.parametrize("method,route", ADMIN_ROUTES)
@pytest.mark.parametrize(
    "token,status,code",
    [(None, 401, "UNAUTHORIZED"), ("wrong-token", 401, "UNAUTHORIZED"), (UPLOAD_TOKEN, 403, "FORBIDDEN")],
)
def test_admin_routes_refuse_missing_wrong_and_upload_tokens(api, ids, method, route, token, status, code):
    response = api.call(method, route.format(**ids), token=token or "", json=BODIES.get((method, route)))
    assert_error(response, status, code)


@pytest.mark.parametrize("method,route", ADMIN_ROUTES)
def test_admin_routes_accept_the_admin_token(api, ids, method, route):
    response = api.call(method, route.format(**ids), token=ADMIN_TOKEN, json=BODIES.get((method, route)))
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    assert response.mimetype == "text/csv" if route.endswith(".csv") else response.json["ok"] is True


def test_refused_request_changes_nothing(api, ids):
    api.call("DELETE", f"/admin/api/products/{ids['product']}", token=UPLOAD_TOKEN)
    assert api.data("GET", f"/admin/api/products/{ids['product']}")["product"]["id"] == ids["product"]


def test_several_comma_separated_tokens_are_accepted(make_app):
    client = make_app(admin_token="first, second", upload_token="").test_client()
    for token in ("first", "second"):
        assert client.get("/admin/api/products", headers={"X-Auth-Token": token}).status_code == 200
    assert client.get("/admin/api/products", headers={"X-Auth-Token": "third"}).status_code == 401
