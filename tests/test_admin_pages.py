"""Signing a browser in at /admin: the session that lets product pages recognise an admin."""
import re

import pytest

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN


def csrf_of(response):
    return re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def sign_in(client, token):
    csrf = csrf_of(client.get("/admin"))
    return client.post("/admin/sign-in", data={"csrf": csrf, "token": token})


def test_sign_in_sets_a_strict_http_only_session_and_shows_warnings(client):
    response = sign_in(client, ADMIN_TOKEN)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert ADMIN_TOKEN not in cookie
    page = client.get("/admin").get_data(as_text=True)
    assert "signed in as an admin" in page and "https://" in page


@pytest.mark.parametrize("token", ["", "wrong", UPLOAD_TOKEN])
def test_only_admin_tokens_sign_in(client, token):
    response = sign_in(client, token)
    assert response.status_code == 401
    assert "not an admin token" in response.get_data(as_text=True)
    assert "signed in as an admin" not in client.get("/admin").get_data(as_text=True)


def test_forms_need_the_csrf_token(client):
    client.get("/admin")
    assert client.post("/admin/sign-in", data={"csrf": "forged", "token": ADMIN_TOKEN}).status_code == 400
    assert client.post("/admin/sign-in", data={"token": ADMIN_TOKEN}).status_code == 400
    assert "signed in as an admin" not in client.get("/admin").get_data(as_text=True)


def test_sign_out_ends_the_session(client):
    sign_in(client, ADMIN_TOKEN)
    response = client.post("/admin/sign-out", data={"csrf": csrf_of(client.get("/admin"))})
    assert response.status_code == 303
    assert "signed in as an admin" not in client.get("/admin").get_data(as_text=True)


def test_removing_the_token_from_the_configuration_ends_the_session(app, client):
    sign_in(client, ADMIN_TOKEN)
    app.config["FENFA"]["admin_token"] = ["a-new-token"]
    assert "signed in as an admin" not in client.get("/admin").get_data(as_text=True)


def test_a_signed_in_browser_sees_the_https_warning_on_product_pages(api, client):
    api.create_product()
    assert "iOS refuses to install" not in client.get("/products/demo").get_data(as_text=True)
    sign_in(client, ADMIN_TOKEN)
    assert "iOS refuses to install" in client.get("/products/demo").get_data(as_text=True)


def test_a_non_ascii_csrf_value_is_refused_not_a_crash(client):
    client.get("/admin")
    assert client.post("/admin/sign-in", data={"csrf": "é", "token": ADMIN_TOKEN}).status_code == 400


def test_the_session_cookie_is_secure_once_the_site_is_https(api, client):
    assert "Secure" not in sign_in(client, ADMIN_TOKEN).headers["Set-Cookie"]
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    assert "Secure" in sign_in(client, ADMIN_TOKEN).headers["Set-Cookie"]
