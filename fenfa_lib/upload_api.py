"""POST /upload (upload token), smart upload and parse-only (admin token)."""
from flask import Blueprint, current_app, request

from fenfa_lib import urls
from fenfa_lib.api import ApiError, ok, upload_limit_message
from fenfa_lib.auth import require_token
from fenfa_lib.catalog import find_variant, get_or_404
from fenfa_lib.models import Variant, iso
from fenfa_lib.product_page import release_links
from fenfa_lib.serialize import profile_dict
from fenfa_lib.uploads import (
    check_identifier, create_release, form_fields, inspect_package, profile_row, received_file,
)

bp = Blueprint("upload", __name__)


def refuse_oversized_body():
    """413 from Content-Length, before any of the body is read, past the file limit plus the form's allowance."""
    if (request.content_length or 0) > current_app.config["MAX_CONTENT_LENGTH"]:
        raise ApiError(413, upload_limit_message(current_app.config["FENFA"]["max_upload_mb"]))


def variant_from_form(required):
    variant_id = request.form.get("variant_id", "").strip()
    if not variant_id:
        if required:
            raise ApiError(400, "variant_id is required")
        return None
    return get_or_404(Variant, variant_id, "variant")


@bp.post("/upload")
@require_token("upload")
def upload():
    refuse_oversized_body()
    variant = variant_from_form(required=True)
    return store_upload(variant)


@bp.post("/admin/api/smart-upload")
@require_token("admin")
def smart_upload():
    """Like /upload, but the variant may be found or created from the package's metadata."""
    refuse_oversized_body()
    variant = variant_from_form(required=False)
    if variant:
        return store_upload(variant)
    fields = form_fields(request.form)
    file_name, spool = received_file()
    info = inspect_package(spool, file_name)
    if info is None:
        raise ApiError(400, "variant_id is required for files that are not .ipa, .apk or .aab")
    return upload_answer(create_release(find_variant(info), file_name, spool, fields, info))


@bp.post("/admin/api/parse-app")
@require_token("admin")
def parse_app():
    """Parse an uploaded package and return its metadata; nothing is stored."""
    refuse_oversized_body()
    file_name, spool = received_file()
    info = inspect_package(spool, file_name)
    if info is None:
        raise ApiError(400, "only .ipa, .apk and .aab files can be parsed")
    existing = find_variant(info)
    return ok({
        "file_name": file_name,
        "size_bytes": spool.size,
        "sha256": spool.sha256,
        "package_type": info.package_type,
        "platform": info.platform,
        "identifier": info.identifier,
        "version": info.version,
        "build": info.build,
        "display_name": info.display_name,
        "min_os": info.min_os,
        "device_family": list(info.device_family or []),
        "has_icon": bool(info.icon),
        "provisioning_profile": profile_dict(profile_row(info.profile)) if info.profile else None,
        "variant_id": existing.id if existing else None,
    })


def store_upload(variant):
    fields = form_fields(request.form)
    file_name, spool = received_file()
    info = inspect_package(spool, file_name, variant.platform)
    check_identifier(variant, info)
    return upload_answer(create_release(variant, file_name, spool, fields, info))


def upload_answer(release):
    """201 with the release, its app and its public URLs."""
    variant = release.variant
    product = variant.product
    return ok({
        "app": {
            "id": variant.id,
            "name": product.name,
            "platform": variant.platform,
            "bundle_id": variant.identifier,
            "product_id": product.id,
            "variant_id": variant.id,
        },
        "release": {
            "id": release.id,
            "version": release.version,
            "build": release.build,
            "channel": release.channel,
            "size_bytes": release.size_bytes,
            "sha256": release.sha256,
            "created_at": iso(release.created_at),
        },
        "urls": upload_urls(release, variant, product),
    }, 201)


def upload_urls(release, variant, product):
    """The product's page and QR code, and the release's own links (whose "page" is the release page)."""
    links = release_links(release, variant, product.slug)
    return {
        "page": urls.page_url(product.slug),
        "release_page": links.pop("page"),
        **links,
        "qrcode": urls.qrcode_url(product.slug),
    }
