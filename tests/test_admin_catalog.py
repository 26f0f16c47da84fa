"""Products, variants, publishing and stats through the admin API."""
import re

import pytest

from fenfa_lib.models import Event, Product, Variant, db

from helpers import assert_error

ID_PATTERN = r"^{}_[0-9a-f]{{16}}$"


def test_create_product_returns_201_with_a_prefixed_id(api):
    product = api.create_product(description="Cross-platform app")
    assert re.match(ID_PATTERN.format("prd"), product["id"])
    assert product["slug"] == "demo"
    assert product["description"] == "Cross-platform app"
    assert product["published"] is True
    assert product["created_at"].endswith("Z")


def test_taken_slug_is_suffixed_on_create(api):
    slugs = [api.create_product(slug="demo")["slug"] for _ in range(3)]
    assert slugs == ["demo", "demo-2", "demo-3"]


def test_taken_slug_is_refused_on_update(api):
    api.create_product(slug="first")
    second = api.create_product(slug="second")
    response = api.call("PUT", f"/admin/api/products/{second['id']}", json={"slug": "first"})
    assert_error(response, 400, "BAD_REQUEST", "slug already exists")


@pytest.mark.parametrize(
    "body,message",
    [
        ({"slug": "demo"}, "name is required"),
        ({"name": "Demo"}, "slug is required"),
        ({"name": "  ", "slug": "demo"}, "name is required"),
        ({"name": 5, "slug": "demo"}, "name must be a string"),
        ({"name": "Demo", "slug": "Demo App"}, "slug must be"),
        ({"name": "Demo", "slug": "demo--app"}, "slug must be"),
        ({"name": "Demo", "slug": "-demo"}, "slug must be"),
        ({"name": "Demo", "slug": "demo", "published": "yes"}, "published must be true or false"),
        ({"name": "Demo", "slug": "demo", "description": ["x"]}, "description must be a string"),
        ({"name": "x" * 300, "slug": "demo"}, "name must be at most"),
    ],
)
def test_product_validation(api, body, message):
    assert_error(api.call("POST", "/admin/api/products", json=body), 400, "BAD_REQUEST", message)
    assert Product.select().count() == 0


def test_list_products_filters_pages_and_counts_variants(api):
    first = api.create_product(name="Alpha", slug="alpha")
    api.create_product(name="Beta", slug="beta")
    api.create_variant(first["id"])
    api.create_variant(first["id"], platform="ios", identifier="com.example.ios", display_name="iOS")
    listing = api.data("GET", "/admin/api/products")
    assert listing["total"] == 2
    counts = {item["slug"]: item["variant_count"] for item in listing["items"]}
    assert counts == {"alpha": 2, "beta": 0}
    assert [i["slug"] for i in api.data("GET", "/admin/api/products?q=alp")["items"]] == ["alpha"]
    page = api.data("GET", "/admin/api/products?limit=1&offset=1")
    assert (len(page["items"]), page["total"]) == (1, 2)


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "offset=-1"])
def test_list_rejects_bad_paging(api, query):
    assert_error(api.call("GET", f"/admin/api/products?{query}"), 400, "BAD_REQUEST")


def test_get_product_includes_variants_in_sort_order(api):
    product = api.create_product()
    api.create_variant(product["id"], display_name="Second", sort_order=2)
    api.create_variant(product["id"], display_name="First", sort_order=1, identifier="com.example.first")
    data = api.data("GET", f"/admin/api/products/{product['id']}")
    assert data["product"]["id"] == product["id"]
    assert [v["display_name"] for v in data["variants"]] == ["First", "Second"]
    assert data["variants"][0]["releases"] == []


def test_update_product_changes_only_given_fields(api):
    product = api.create_product(description="old")
    updated = api.data("PUT", f"/admin/api/products/{product['id']}", json={"name": "Renamed"})["product"]
    assert (updated["name"], updated["slug"], updated["description"]) == ("Renamed", "demo", "old")


def test_unknown_ids_are_404(api):
    assert_error(api.call("GET", "/admin/api/products/prd_0000000000000000"), 404, "NOT_FOUND", "product")
    assert_error(api.call("PUT", "/admin/api/variants/var_0000000000000000", json={}), 404, "NOT_FOUND")
    assert_error(api.call("DELETE", "/admin/api/releases/rel_0000000000000000"), 404, "NOT_FOUND")
    assert_error(api.call("PUT", "/admin/api/apps/var_0000000000000000/publish"), 404, "NOT_FOUND")


def test_create_variant_normalises_platform_and_defaults_installer_type(api):
    product = api.create_product()
    expected = {"iOS": "ipa", "ANDROID": "apk", "macos": "dmg", "Windows": "exe", "linux": "appimage"}
    for platform, installer_type in expected.items():
        variant = api.create_variant(product["id"], platform=platform)
        assert re.match(ID_PATTERN.format("var"), variant["id"])
        assert variant["platform"] == platform.lower()
        assert variant["installer_type"] == installer_type
        assert variant["product_id"] == product["id"]


@pytest.mark.parametrize(
    "body,message",
    [
        ({"display_name": "x", "identifier": "a"}, "platform is required"),
        ({"platform": "symbian", "display_name": "x", "identifier": "a"}, "platform must be one of"),
        ({"platform": "ios", "identifier": "a"}, "display_name is required"),
        ({"platform": "ios", "display_name": "x"}, "identifier is required"),
        ({"platform": "ios", "display_name": "x", "identifier": "a", "installer_type": "apk"}, "installer_type"),
        ({"platform": "ios", "display_name": "x", "identifier": "a", "sort_order": "1"}, "sort_order must be"),
        ({"platform": "ios", "display_name": "x", "identifier": "a", "sort_order": True}, "sort_order must be"),
        ({"platform": 3, "display_name": "x", "identifier": "a"}, "platform must be a string"),
    ],
)
def test_variant_validation(api, body, message):
    product = api.create_product()
    response = api.call("POST", f"/admin/api/products/{product['id']}/variants", json=body)
    assert_error(response, 400, "BAD_REQUEST", message)
    assert Variant.select().count() == 0


def test_update_variant(api):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="windows")
    changes = {"display_name": "Windows x64", "arch": "x64", "installer_type": "msi", "min_os": "10",
               "published": False}
    updated = api.data("PUT", f"/admin/api/variants/{variant['id']}", json=changes)["variant"]
    assert {key: updated[key] for key in changes} == changes
    response = api.call("PUT", f"/admin/api/variants/{variant['id']}", json={"installer_type": "ipa"})
    assert_error(response, 400, "BAD_REQUEST", "installer_type")


def test_publish_and_unpublish_products_and_variants(api):
    product = api.create_product()
    variant = api.create_variant(product["id"])
    for app_id in (product["id"], variant["id"]):
        assert api.data("PUT", f"/admin/api/apps/{app_id}/unpublish") == {"id": app_id, "published": False}
        assert api.data("PUT", f"/admin/api/apps/{app_id}/publish") == {"id": app_id, "published": True}
    api.data("PUT", f"/admin/api/apps/{variant['id']}/unpublish")
    assert Variant.get_by_id(variant["id"]).published is False


def test_delete_product_cascades_to_variants(api):
    product = api.create_product()
    api.create_variant(product["id"])
    assert api.data("DELETE", f"/admin/api/products/{product['id']}") == {"deleted": product["id"]}
    assert Product.select().count() == 0
    assert Variant.select().count() == 0
    assert_error(api.call("GET", f"/admin/api/products/{product['id']}"), 404, "NOT_FOUND")


def test_delete_variant_keeps_the_product(api):
    product = api.create_product()
    variant = api.create_variant(product["id"])
    assert api.data("DELETE", f"/admin/api/variants/{variant['id']}") == {"deleted": variant["id"]}
    assert api.data("GET", f"/admin/api/products/{product['id']}")["variants"] == []


def test_variant_stats_count_events(api):
    product = api.create_product()
    variant = api.create_variant(product["id"])
    with db.connection_context():
        Event.insert_many([
            {"type": "visit", "variant_id": variant["id"]},
            {"type": "visit", "variant_id": variant["id"]},
            {"type": "click", "variant_id": variant["id"]},
            {"type": "download", "variant_id": variant["id"]},
        ]).execute()
    api.client.get("/products/demo")
    stats = api.data("GET", f"/admin/api/variants/{variant['id']}/stats")
    assert stats["product"]["id"] == product["id"]
    assert stats["variant"]["id"] == variant["id"]
    assert stats["totals"] == {"downloads": 0, "visits": 3, "clicks": 1, "releases": 0}
    assert len(stats["downloads_per_day"]) == 30
    assert stats["downloads_per_day"][-1]["downloads"] == 1


@pytest.mark.parametrize("path_kind,body,message", [
    ("product", {"descripton": "typo"}, "unknown field: descripton"),
    ("product", {"published": None}, "published must be true or false"),
    ("product", {"name": None}, "name is required"),
    ("variant", {"sort_order": None}, "sort_order must be an integer"),
    ("variant", {"colour": "red"}, "unknown field: colour"),
])
def test_updates_refuse_unknown_fields_and_nulls_for_required_values(api, path_kind, body, message):
    product = api.create_product()
    variant = api.create_variant(product["id"])
    path = f"/admin/api/products/{product['id']}" if path_kind == "product" else f"/admin/api/variants/{variant['id']}"
    assert_error(api.call("PUT", path, json=body), 400, "BAD_REQUEST", message)


def test_null_clears_optional_text_and_resets_installer_type(api):
    product = api.create_product(description="old")
    variant = api.create_variant(product["id"], platform="windows", installer_type="msi", arch="x64")
    cleared = api.data("PUT", f"/admin/api/products/{product['id']}", json={"description": None})["product"]
    assert cleared["description"] == ""
    reset = api.data("PUT", f"/admin/api/variants/{variant['id']}", json={"installer_type": None, "arch": None})
    assert (reset["variant"]["installer_type"], reset["variant"]["arch"]) == ("exe", "")
