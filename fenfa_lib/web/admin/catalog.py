"""Admin API for products, variants, releases and publishing."""
from flask import Blueprint

from fenfa_lib import catalog
from fenfa_lib.access import access_changes
from fenfa_lib.ids import MAX_SLUG_LENGTH, PREFIXES
from fenfa_lib.models import Product, Release, Variant, utcnow
from fenfa_lib.web import validate
from fenfa_lib.web.admin.queries import filtered_products, variants_with_releases
from fenfa_lib.web.admin.stats import variant_stats
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import product_dict, release_dict, variant_dict
from fenfa_lib.web.upload import FORM_LIMITS
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("admin_catalog", __name__, url_prefix="/admin/api")
require_admin(bp)
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def product_fields(body, creating):
    """Validated product fields: all of them when creating, else only those in `body`."""
    readers = {
        "name": lambda: validate.text(body, "name", required=True),
        "slug": lambda: validate.text(body, "slug", required=True, max_length=MAX_SLUG_LENGTH),
        "description": lambda: validate.text(body, "description", max_length=10000, default="", multiline=True),
        "published": lambda: validate.boolean(body, "published", default=True),
        "access": lambda: validate.text(body, "access", required=True, max_length=16) if "access" in body else "public",
        "password": lambda: body.get("password"),
    }
    return read_fields(body, readers, creating)


def variant_fields(body, creating):
    """Validated variant fields: all of them when creating, else only those in `body`."""
    readers = {
        "platform": lambda: validate.text(body, "platform", required=True, max_length=16),
        "display_name": lambda: validate.text(body, "display_name", required=True),
        "identifier": lambda: validate.text(body, "identifier", required=True),
        "arch": lambda: validate.text(body, "arch", max_length=32, default=""),
        "installer_type": lambda: validate.text(body, "installer_type", max_length=16, default=""),
        "min_os": lambda: validate.text(body, "min_os", max_length=32, default=""),
        "sort_order": lambda: validate.integer(body, "sort_order", default=0, minimum=INT32_MIN, maximum=INT32_MAX),
        "published": lambda: validate.boolean(body, "published", default=True),
        "keep_releases": lambda: keep_releases(body),
    }
    return read_fields(body, readers, creating)


def keep_releases(body):
    """How many unpinned releases the variant keeps after an upload: an integer from 1, or null for all."""
    if body.get("keep_releases") is None:
        return None
    return validate.integer(body, "keep_releases", minimum=1, maximum=INT32_MAX)


def release_changes(body):
    """The fields of a release an admin may change, those in `body`."""
    readers = {
        "changelog": lambda: validate.text(body, "changelog", max_length=FORM_LIMITS["changelog"], default="",
                                           multiline=True),
        "channel": lambda: validate.text(body, "channel", max_length=FORM_LIMITS["channel"], default=""),
        "pinned": lambda: validate.boolean(body, "pinned"),
    }
    return read_fields(body, readers, creating=False)


def read_fields(body, readers, creating):
    validate.known_fields(body, readers)
    return {name: read() for name, read in readers.items() if creating or name in body}


@bp.get("/products")
def list_products():
    return ok(validate.paginate(filtered_products(), lambda row: product_dict(row, row.variant_count)))


@bp.post("/products")
def create_product():
    fields = access_changes(product_fields(validate.json_object(), creating=True))
    return ok({"product": product_dict(catalog.create_product(**fields))}, 201)


@bp.get("/products/<product_id>")
def get_product(product_id):
    product = get_or_404(Product, product_id, "product")
    return ok({
        "product": product_dict(product),
        "variants": [{**variant_dict(variant), "releases": [release_dict(release, admin=True) for release in releases]}
                     for variant, releases in variants_with_releases(product)],
    })


@bp.put("/products/<product_id>")
def update_product(product_id):
    product = get_or_404(Product, product_id, "product")
    changes = access_changes(product_fields(validate.json_object(), creating=False), product)
    return ok({"product": product_dict(catalog.update_product(product, changes))})


@bp.delete("/products/<product_id>")
def delete_product(product_id):
    return ok({"deleted": catalog.delete_product(get_or_404(Product, product_id, "product"))})


@bp.post("/products/<product_id>/variants")
def create_variant(product_id):
    product = get_or_404(Product, product_id, "product")
    fields = variant_fields(validate.json_object(), creating=True)
    return ok({"variant": variant_dict(catalog.create_variant(product, fields))}, 201)


@bp.put("/variants/<variant_id>")
def update_variant(variant_id):
    variant = get_or_404(Variant, variant_id, "variant")
    changes = variant_fields(validate.json_object(), creating=False)
    return ok({"variant": variant_dict(catalog.update_variant(variant, changes))})


@bp.delete("/variants/<variant_id>")
def delete_variant(variant_id):
    return ok({"deleted": catalog.delete_variant(get_or_404(Variant, variant_id, "variant"))})


@bp.get("/variants/<variant_id>/stats")
def stats(variant_id):
    return ok(variant_stats(get_or_404(Variant, variant_id, "variant")))


@bp.put("/releases/<release_id>")
def update_release(release_id):
    release = get_or_404(Release, release_id, "release")
    changes = release_changes(validate.json_object())
    return ok({"release": release_dict(catalog.update_release(release, changes), admin=True)})


@bp.delete("/releases/<release_id>")
def delete_release(release_id):
    return ok({"deleted": catalog.delete_release(get_or_404(Release, release_id, "release"))})


@bp.put("/apps/<app_id>/publish")
def publish(app_id):
    return set_published(app_id, True)


@bp.put("/apps/<app_id>/unpublish")
def unpublish(app_id):
    return set_published(app_id, False)


def set_published(app_id, published):
    """The seeds' "app" is the per-platform variant; a product ID publishes or hides the whole product."""
    model = Product if app_id.startswith(PREFIXES["product"]) else Variant
    app = get_or_404(model, app_id, "app")
    type(app).update(published=published, updated_at=utcnow()).where(type(app).id == app.id).execute()
    return ok({"id": app.id, "published": published})
