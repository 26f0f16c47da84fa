"""Admin API for share links: make one for a product, list a product's links, revoke one."""
from flask import Blueprint, current_app

from fenfa_lib import access
from fenfa_lib.models import Product, ShareLink
from fenfa_lib.web import urls, validate
from fenfa_lib.web.admin.catalog import INT32_MAX, read_fields
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import link_dict
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("admin_links", __name__, url_prefix="/admin/api")
require_admin(bp)


def link_fields(body):
    readers = {
        "expires_in_hours": lambda: validate.integer(body, "expires_in_hours", default=access.DEFAULT_LINK_HOURS,
                                                     minimum=access.MIN_LINK_HOURS, maximum=access.MAX_LINK_HOURS),
        "max_downloads": lambda: None if body.get("max_downloads") is None else validate.integer(
            body, "max_downloads", minimum=1, maximum=INT32_MAX),
        "note": lambda: validate.text(body, "note", max_length=access.MAX_NOTE_LENGTH, default=""),
    }
    return read_fields(body, readers, creating=True)


def shown(link):
    """The link as the API shows it, its URL computed again from its ID."""
    return link_dict(link, urls.share_url(access.link_token(current_app.secret_key, link.id)),
                     access.link_state(link))


@bp.post("/products/<product_id>/links")
def create_link(product_id):
    product = get_or_404(Product, product_id, "product")
    fields = link_fields(validate.json_object())
    return ok({"link": shown(access.create_link(product, **fields))}, 201)


@bp.get("/products/<product_id>/links")
def list_links(product_id):
    product = get_or_404(Product, product_id, "product")
    return ok(validate.paginate(access.product_links(product), shown))


@bp.delete("/links/<link_id>")
def revoke_link(link_id):
    """Revoke at once: the link, the cookies it set and the install tokens made from them stop working. The link
    stays listed, revoked."""
    link = access.revoke_link(get_or_404(ShareLink, link_id, "link"))
    return ok({"deleted": link.id, "link": shown(link)})
