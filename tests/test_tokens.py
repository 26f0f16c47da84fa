"""Named tokens through HTTP: made with a scope (and perhaps a product), their secret shown once and kept only as a
hash, used for uploads and the admin API beside the configured tokens, last_used_at, revocation (also at the
waitress admission of a live server), product scoping on every upload route, and the panel sign-in."""
import hashlib
import io
import json
import urllib.request
from datetime import timedelta

import pytest
from test_admin_pages import sign_in, signed_in
from test_serving import answer_of, call, send_headers

from fenfa_lib.models import ApiToken, Product, Release

from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error, assert_nothing_left
from live import live_fenfa

APK = "android-politedroid-minsdk3-tiny.apk"  # names itself: android, com.politedroid
EXE = b"MZ" + bytes(range(256)) * 8


def make_token(api, status=201, **fields):
    return api.data("POST", "/admin/api/tokens", status, json={"name": "CI", "scope": "upload", **fields})


def catalog(api, slug, identifier="com.politedroid"):
    """A product with an android variant of `identifier` and a windows variant: (product, android, windows)."""
    product = api.create_product(name=slug.title(), slug=slug)
    android = api.create_variant(product["id"], platform="android", identifier=identifier)
    windows = api.create_variant(product["id"], platform="windows", display_name="Windows",
                                 identifier=f"com.{slug}.windows")
    return product, android, windows


def test_a_token_is_made_listed_and_its_secret_is_shown_once(api, client):
    made = make_token(api, name="Nightly CI")
    token, secret = made["token"], made["secret"]
    assert token["id"].startswith("tok_") and secret.startswith("fenfa_") and len(secret) > 40
    assert token == {"id": token["id"], "name": "Nightly CI", "scope": "upload", "product_id": None,
                     "created_at": token["created_at"], "last_used_at": None}
    listed = api.data("GET", "/admin/api/tokens")
    assert listed == {"items": [token], "total": 1}
    assert secret not in json.dumps(listed)
    row = ApiToken.get_by_id(token["id"])
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in row.secret_hash


def test_tokens_are_listed_newest_first_and_paged(api):
    ids = [make_token(api, name=f"job {number}")["token"]["id"] for number in range(3)]
    oldest = ApiToken.get_by_id(ids[0])
    ApiToken.update(created_at=oldest.created_at - timedelta(hours=1)).where(ApiToken.id == ids[0]).execute()
    page = api.data("GET", "/admin/api/tokens?limit=2")
    assert page["total"] == 3 and len(page["items"]) == 2
    assert api.data("GET", "/admin/api/tokens?offset=2")["items"][0]["id"] == ids[0]


@pytest.mark.parametrize("body,message", [
    ({"scope": "upload"}, "name is required"),
    ({"name": "  ", "scope": "upload"}, "name is required"),
    ({"name": "x" * 101, "scope": "upload"}, "name must be at most 100 characters"),
    ({"name": "CI"}, "scope is required"),
    ({"name": "CI", "scope": "owner"}, "scope must be one of: upload, admin"),
    ({"name": "CI", "scope": 1}, "scope must be a string"),
    ({"name": "CI", "scope": "upload", "product_id": "prd_0000000000000000"}, "product prd_0000000000000000 not found"),
    ({"name": "CI", "scope": "upload", "secret": "mine"}, "unknown field: secret"),
    ({"name": "C\nI", "scope": "upload"}, "name must not contain control characters"),
])
def test_bad_token_fields_are_400_and_make_nothing(api, body, message):
    assert_error(api.call("POST", "/admin/api/tokens", json=body), 400, "BAD_REQUEST", message)
    assert ApiToken.select().count() == 0


def test_an_admin_token_cannot_be_limited_to_a_product(api):
    product = api.create_product()
    response = api.call("POST", "/admin/api/tokens", json={"name": "x", "scope": "admin", "product_id": product["id"]})
    assert_error(response, 400, "BAD_REQUEST", "product_id applies to upload tokens only")


def test_token_routes_need_an_admin(api):
    secret = make_token(api)["secret"]
    for token in (UPLOAD_TOKEN, secret):
        assert_error(api.call("GET", "/admin/api/tokens", token=token), 403, "FORBIDDEN")
        assert_error(api.call("POST", "/admin/api/tokens", token=token, json={"name": "x", "scope": "admin"}), 403,
                     "FORBIDDEN")
    assert ApiToken.select().count() == 1


def test_a_named_upload_token_uploads_and_notes_its_use_once_a_minute(api):
    _, _, windows = catalog(api, "demo")
    made = make_token(api)
    release = api.upload(windows["id"], "setup.exe", EXE, token=made["secret"])
    assert release.status_code == 201, release.get_data(as_text=True)
    used = api.data("GET", "/admin/api/tokens")["items"][0]["last_used_at"]
    assert used is not None
    assert api.upload(windows["id"], "setup2.exe", EXE + b"2", token=made["secret"]).status_code == 201
    assert api.data("GET", "/admin/api/tokens")["items"][0]["last_used_at"] == used  # not a write per request
    earlier = ApiToken.get_by_id(made["token"]["id"]).last_used_at - timedelta(minutes=2)
    ApiToken.update(last_used_at=earlier).execute()
    assert api.upload(windows["id"], "setup3.exe", EXE + b"3", token=made["secret"]).status_code == 201
    assert ApiToken.get_by_id(made["token"]["id"]).last_used_at > earlier + timedelta(minutes=1)


def test_a_named_upload_token_may_not_use_the_admin_api(api):
    secret = make_token(api)["secret"]
    assert_error(api.call("GET", "/admin/api/products", token=secret), 403, "FORBIDDEN", "needs an admin token")


def test_a_named_admin_token_may_do_all(api):
    secret = make_token(api, scope="admin")["secret"]
    product = api.data("POST", "/admin/api/products", 201, token=secret, json={"name": "Mine", "slug": "mine"})
    variant = api.create_variant(product["product"]["id"], platform="windows")
    assert api.upload(variant["id"], "setup.exe", EXE, token=secret).status_code == 201


def test_configured_tokens_keep_working_beside_named_ones(api):
    make_token(api, scope="admin")
    _, _, windows = catalog(api, "demo")
    assert api.upload(windows["id"], "setup.exe", EXE, token=UPLOAD_TOKEN).status_code == 201
    assert api.data("GET", "/admin/api/products", token=ADMIN_TOKEN)["total"] == 1


def test_a_revoked_token_is_refused_at_once(api, data_dir):
    _, _, windows = catalog(api, "demo")
    upload_made, admin_made = make_token(api), make_token(api, scope="admin")
    for made in (upload_made, admin_made):
        assert api.data("DELETE", f"/admin/api/tokens/{made['token']['id']}") == {"deleted": made["token"]["id"]}
    Release.delete().execute()
    assert_error(api.upload(windows["id"], "setup.exe", EXE, token=upload_made["secret"]), 401, "UNAUTHORIZED",
                 "invalid token")
    assert_nothing_left(data_dir)
    assert_error(api.call("GET", "/admin/api/products", token=admin_made["secret"]), 401, "UNAUTHORIZED")
    assert api.data("GET", "/admin/api/tokens")["total"] == 0
    assert_error(api.call("DELETE", f"/admin/api/tokens/{upload_made['token']['id']}"), 404, "NOT_FOUND")


def test_deleting_a_product_revokes_its_tokens(api):
    product, _, _ = catalog(api, "demo")
    secret = make_token(api, product_id=product["id"])["secret"]
    api.data("DELETE", f"/admin/api/products/{product['id']}")
    assert_error(api.call("POST", "/admin/api/parse-app", token=secret), 401, "UNAUTHORIZED")


# Product scoping.

def upload_by_route(api, route, variant, secret, file_name, content):
    if route == "put":
        return api.call("PUT", f"/upload/{file_name}?variant_id={variant['id']}", token=secret, data=content)
    return api.upload(variant["id"], file_name, content, token=secret, path=route)


@pytest.mark.parametrize("route", ["/upload", "put", "/admin/api/smart-upload"])
def test_a_product_token_uploads_only_to_its_products_variants(api, data_dir, route):
    mine, _, my_windows = catalog(api, "mine")
    _, _, their_windows = catalog(api, "theirs", identifier="com.other")
    secret = make_token(api, product_id=mine["id"])["secret"]
    refused = upload_by_route(api, route, their_windows, secret, "setup.exe", EXE)
    assert_error(refused, 403, "FORBIDDEN", f"only to the variants of product {mine['id']}")
    assert_nothing_left(data_dir)
    accepted = upload_by_route(api, route, my_windows, secret, "setup.exe", EXE)
    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    assert accepted.json["data"]["app"]["product_id"] == mine["id"]


def smart_upload(api, secret):
    content = (require_samples() / APK).read_bytes()
    return api.call("POST", "/admin/api/smart-upload", token=secret, content_type="multipart/form-data",
                    data={"app_file": (io.BytesIO(content), APK)})


def test_a_product_tokens_smart_upload_finds_the_variant_within_its_product(api):
    _, theirs, _ = catalog(api, "theirs")  # the older variant of the same app
    mine, android, _ = catalog(api, "mine")
    secret = make_token(api, product_id=mine["id"])["secret"]
    answer = smart_upload(api, secret)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.json["data"]["app"]["variant_id"] == android["id"] != theirs["id"]
    parsed = api.call("POST", "/admin/api/parse-app", token=secret, content_type="multipart/form-data",
                      data={"app_file": (io.BytesIO((require_samples() / APK).read_bytes()), APK)})
    assert parsed.json["data"]["variant_id"] == android["id"]


def test_a_product_tokens_smart_upload_creates_nothing(api, data_dir):
    catalog(api, "theirs")  # has the app; the token's product does not
    mine = api.create_product(name="Mine", slug="mine")
    secret = make_token(api, product_id=mine["id"])["secret"]
    assert_error(smart_upload(api, secret), 403, "FORBIDDEN", f"product {mine['id']}, the only one this token may")
    assert_nothing_left(data_dir)
    assert Product.select().count() == 2
    parsed = api.call("POST", "/admin/api/parse-app", token=secret, content_type="multipart/form-data",
                      data={"app_file": (io.BytesIO((require_samples() / APK).read_bytes()), APK)})
    assert parsed.status_code == 200 and parsed.json["data"]["variant_id"] is None  # not the other product's


# Sessions.

def test_a_named_admin_token_signs_in_and_revoking_it_signs_out(api, client):
    made = make_token(api, scope="admin")
    assert sign_in(client, made["secret"]).status_code == 303
    assert signed_in(client)
    api.data("DELETE", f"/admin/api/tokens/{made['token']['id']}")
    assert not signed_in(client)


def test_a_named_upload_token_does_not_sign_in(api, client):
    assert sign_in(client, make_token(api)["secret"]).status_code == 401


# The waitress admission of a live server.

def test_the_live_server_admits_a_named_token_and_refuses_it_once_revoked(data_dir):
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN) as server:
        _, made = call(server, "POST", "/admin/api/tokens", {"name": "CI", "scope": "upload"})
        secret, token_id = made["data"]["secret"], made["data"]["token"]["id"]
        _, product = call(server, "POST", "/admin/api/products", {"name": "Demo", "slug": "demo"})
        _, variant = call(server, "POST", f"/admin/api/products/{product['data']['product']['id']}/variants",
                          {"platform": "windows", "display_name": "Windows", "identifier": "com.example.win"})
        upload_url = f"{server.base}/upload/setup.exe?variant_id={variant['data']['variant']['id']}"
        request = urllib.request.Request(upload_url, data=EXE, method="PUT", headers={"X-Auth-Token": secret})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        call(server, "DELETE", f"/admin/api/tokens/{token_id}")
        with send_headers(server, "/upload", 50 * 1024 * 1024, secret) as connection:
            assert answer_of(connection) == (401, {"ok": False, "error": {"code": "UNAUTHORIZED",
                                                                          "message": "invalid token"}})
        assert list((data_dir / "tmp").iterdir()) == []
