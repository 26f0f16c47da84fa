"""The admin panel's catalog pages: products, a product with its variants and releases, smart upload and
a variant's statistics. Pages read through the same queries and services as the JSON API; their forms
and buttons call that API from the browser with the session and its CSRF token."""
from datetime import timedelta

from flask import Blueprint, current_app

from fenfa_lib.models import Product, Variant, utcnow
from fenfa_lib.packages.filetypes import EXTENSIONS
from fenfa_lib.web import urls, validate
from fenfa_lib.web.admin.chart import downloads_chart
from fenfa_lib.web.admin.queries import filtered_products, variants_with_releases
from fenfa_lib.web.admin.rendering import admin_language, render_admin, require_admin_session
from fenfa_lib.web.admin.stats import variant_stats
from fenfa_lib.web.admin.texts import TEXTS
from fenfa_lib.web.i18n import translator
from fenfa_lib.web.product_page import PLATFORM_NAMES, human_size
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("admin_panel", __name__, url_prefix="/admin")
require_admin_session(bp)
PER_PAGE = 20
EXPIRY_WARNING = timedelta(days=30)
HELPERS = {"human_size": human_size, "platform_names": PLATFORM_NAMES, "urls": urls}


def page_of(query):
    """(rows, paging) of the page `offset` names, PER_PAGE rows at a time."""
    offset = validate.query_int("offset", 0, 0, validate.MAX_OFFSET)
    total = query.count()
    rows = list(query.limit(PER_PAGE).offset(offset))
    return rows, {"offset": offset, "total": total, "per_page": PER_PAGE,
                  "previous": max(offset - PER_PAGE, 0) if offset else None,
                  "next": offset + PER_PAGE if offset + PER_PAGE < total else None}


def profile_state(profile):
    """'expired', 'expiring' (within 30 days) or 'valid' for a provisioning profile."""
    if profile.expires_at is None:
        return "valid"
    now = utcnow()
    return "expired" if profile.expires_at <= now else "expiring" if profile.expires_at <= now + EXPIRY_WARNING \
        else "valid"


@bp.get("/products")
def products():
    rows, paging = page_of(filtered_products())
    return render_admin("admin/products.html", products=rows, paging=paging, **HELPERS)


@bp.get("/products/<product_id>")
def product(product_id):
    row = get_or_404(Product, product_id, "product")
    variants = variants_with_releases(row)
    return render_admin("admin/product.html", product=row, variants=variants, extensions=EXTENSIONS,
                        profile_state=profile_state, max_upload_mb=current_app.config["FENFA"]["max_upload_mb"],
                        **HELPERS)


@bp.get("/smart-upload")
def smart_upload():
    variants = list(Variant.select(Variant, Product).join(Product).order_by(Product.name, Variant.sort_order))
    return render_admin("admin/smart_upload.html", variants=variants,
                        max_upload_mb=current_app.config["FENFA"]["max_upload_mb"], **HELPERS)


@bp.get("/variants/<variant_id>/stats")
def stats(variant_id):
    variant = get_or_404(Variant, variant_id, "variant")
    summary = variant_stats(variant)
    chart = downloads_chart(summary["downloads_per_day"], translator(admin_language(), TEXTS)("chart_title"))
    return render_admin("admin/stats.html", variant=variant, stats=summary, chart=chart, **HELPERS)
