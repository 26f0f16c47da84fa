"""GET /openapi.json: an OpenAPI 3.1 document that stays equal to the app's URL map and is valid OpenAPI."""
import re

import pytest
import schemathesis

import fenfa
from fenfa_lib.web.admin.settings import PUBLIC_FIELDS, SECRET_FIELDS
from fenfa_lib.web.openapi import DOCUMENT

from helpers import UPLOAD_TOKEN

IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def openapi_path(rule):
    """/d/<release_id> -> /d/{release_id}, converters (<path:name>) included."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_routes(app):
    """{OpenAPI path: methods} of the app's rules that belong to an API blueprint."""
    names = {blueprint.name for blueprint in fenfa.API_BLUEPRINTS}
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and rule.endpoint.split(".")[0] in names:
            routes.setdefault(openapi_path(rule.rule), set()).update(rule.methods - IGNORED_METHODS)
    return routes


def app_routes(app):
    routes = {}
    for rule in app.url_map.iter_rules():
        routes.setdefault(openapi_path(rule.rule), set()).update(rule.methods - IGNORED_METHODS)
    return routes


def documented(document):
    return {path: {method.upper() for method in item if method in HTTP_METHODS} - IGNORED_METHODS
            for path, item in document["paths"].items()}


def test_served_without_token_as_plain_document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["openapi"] == "3.1.0"
    assert "ok" not in response.json
    assert response.json == DOCUMENT


def test_same_document_with_any_token(client):
    response = client.get("/openapi.json", headers={"X-Auth-Token": UPLOAD_TOKEN})
    assert response.status_code == 200
    assert response.json == DOCUMENT


def test_every_api_route_is_documented_with_its_methods(app):
    paths = documented(app.test_client().get("/openapi.json").json)
    for path, methods in api_routes(app).items():
        assert path in paths, f"{path} is not in the OpenAPI document"
        assert paths[path] == methods, f"{path}: documented {sorted(paths[path])}, app has {sorted(methods)}"


def test_every_documented_path_exists(app):
    routes = app_routes(app)
    for path, methods in documented(DOCUMENT).items():
        assert path in routes, f"{path} is documented but the app has no such route"
        assert methods <= routes[path], f"{path}: documented {sorted(methods)}, app has {sorted(routes[path])}"


def test_valid_openapi_31():
    schemathesis.openapi.from_dict(DOCUMENT).validate()


def test_validation_would_catch_a_broken_document():
    broken = {**DOCUMENT, "paths": {"/healthz": {"get": {"responses": "nothing"}}}}
    with pytest.raises(Exception):  # noqa: B017 - the validator's error type is its own
        schemathesis.openapi.from_dict(broken).validate()


def references(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_every_reference_resolves():
    for target in set(references(DOCUMENT)):
        node = DOCUMENT
        for part in target.removeprefix("#/").split("/"):
            assert part in node, f"{target} does not resolve"
            node = node[part]


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_operations_declare_their_path_parameters_and_known_schemes():
    schemes = DOCUMENT["components"]["securitySchemes"]
    for path, method, operation in operations():
        declared = {param["name"] for param in operation["parameters"] if param["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), f"{method} {path}"
        assert all(param["required"] for param in operation["parameters"] if param["in"] == "path")
        for requirement in operation["security"]:
            assert set(requirement) <= set(schemes), f"{method} {path}"
        assert any(status.startswith("2") or status.startswith("3") for status in operation["responses"])


def test_error_codes_and_security_schemes():
    components = DOCUMENT["components"]
    assert {"400", "401", "403", "404", "405", "409", "413", "429", "500", "502", "503"} <= set(
        components["responses"])
    assert components["securitySchemes"]["AdminToken"] == {**components["securitySchemes"]["AdminToken"],
                                                           "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    assert components["securitySchemes"]["UploadToken"]["name"] == "X-Auth-Token"
    assert components["securitySchemes"]["CsrfToken"]["name"] == "X-CSRF-Token"
    upload = DOCUMENT["paths"]["/upload"]["post"]
    assert {"UploadToken": []} in upload["security"]
    assert {"UploadToken": []} not in DOCUMENT["paths"]["/admin/api/products"]["get"]["security"]
    assert DOCUMENT["paths"]["/healthz"]["get"]["security"] == []


def test_settings_body_names_every_setting():
    properties = DOCUMENT["components"]["schemas"]["SettingsUpdate"]["properties"]
    assert set(properties) == set(PUBLIC_FIELDS) | set(SECRET_FIELDS)
    assert all(properties[name].get("writeOnly") for name in SECRET_FIELDS)


def test_request_bodies_and_filters():
    paths, schemas = DOCUMENT["paths"], DOCUMENT["components"]["schemas"]
    assert schemas["ProductCreate"]["required"] == ["name", "slug"]
    assert schemas["VariantCreate"]["properties"]["platform"]["enum"] == ["ios", "android", "macos", "windows", "linux"]
    for path in ("/upload", "/admin/api/smart-upload", "/admin/api/parse-app"):
        assert "multipart/form-data" in paths[path]["post"]["requestBody"]["content"]
    events = {param["name"] for param in paths["/admin/api/events"]["get"]["parameters"]}
    assert events == {"type", "product_id", "variant_id", "release_id", "from", "to", "limit", "offset"}
    releases_csv = paths["/admin/exports/releases.csv"]["get"]
    assert "platform" in {param["name"] for param in releases_csv["parameters"]}
    assert "text/csv" in releases_csv["responses"]["200"]["content"]
    assert "image/png" in paths["/icons/{release_id}.png"]["get"]["responses"]["200"]["content"]
