"""What changed between two releases of a variant (fenfa_lib/release_diff.py): the admin API's
GET /admin/api/releases/:id/diff, and the panel's page of it."""
from flask import Blueprint, request

from fenfa_lib import release_diff
from fenfa_lib.models import NEWEST_FIRST, Release
from fenfa_lib.web import validate
from fenfa_lib.web.admin.rendering import render_admin, require_admin_session
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.product_page import human_size
from fenfa_lib.web.validate import get_or_404

api_bp = Blueprint("admin_diff", __name__, url_prefix="/admin/api")  # errors in the JSON envelope
require_admin(api_bp)
page_bp = Blueprint("admin_diff_page", __name__, url_prefix="/admin")  # errors as pages
require_admin_session(page_bp)
MAX_ID_LENGTH = 64


def compared_releases(release_id):
    """(older, newer): the `against` release of the query string, or the previous one, and the named release."""
    release = get_or_404(Release, release_id, "release")
    against = validate.text(request.args, "against", max_length=MAX_ID_LENGTH)
    return release_diff.release_to_compare(release, against), release


@api_bp.get("/releases/<release_id>/diff")
def release_changes(release_id):
    return ok(release_diff.diff(*compared_releases(release_id)))


@page_bp.get("/releases/<release_id>/changes")
def release_changes_page(release_id):
    older, newer = compared_releases(release_id)
    variant = newer.variant
    others = Release.select().where((Release.variant == variant) & (Release.id != newer.id)).order_by(*NEWEST_FIRST)
    return render_admin("admin/release_changes.html", diff=release_diff.diff(older, newer), release=newer,
                        variant=variant, product=variant.product, others=others, human_size=human_size)
