"""POST /upload and PUT /upload/<file_name> (upload token), smart upload and parse-only (admin token)."""
import base64

from flask import Blueprint, current_app, request

from fenfa_lib import uploads
from fenfa_lib.catalog import find_variant
from fenfa_lib.config import upload_limit_bytes
from fenfa_lib.errors import ApiError
from fenfa_lib.models import Variant, iso
from fenfa_lib.packages import filetypes
from fenfa_lib.packages.images import image_type
from fenfa_lib.text import has_control_characters, is_ascii_number
from fenfa_lib.uploads import ReceivedFile, inspect_package, profile_row
from fenfa_lib.web import urls
from fenfa_lib.web.auth import require_token
from fenfa_lib.web.client import request_client
from fenfa_lib.web.envelope import ok, upload_limit_message
from fenfa_lib.web.shapes import profile_dict
from fenfa_lib.web.spool import HashingSpool
from fenfa_lib.web.urls import release_links
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("upload", __name__)
FORM_LIMITS = {"version": 64, "build": 20, "channel": 32, "min_os": 32, "changelog": 20000}


@bp.post("/upload")
@require_token("upload")
def upload():
    refuse_oversized_body()
    return release_answer(variant_from_form(request.form, required=True))


@bp.put("/upload/<file_name>")
@require_token("upload")
def upload_raw(file_name):
    """The same upload with the file as the whole body (`curl -T`) and the form's fields as query parameters:
    the body is the spool the release is renamed from."""
    refuse_oversized_body(upload_limit_bytes(current_app.config["FENFA"]))
    variant = variant_from_form(request.args, required=True)
    fields = form_fields(request.args)
    received = received_from(request.body_spool(), file_name, "the file")
    return upload_answer(uploads.add_release(received, fields, request_client(), variant))


@bp.post("/admin/api/smart-upload")
@require_token("admin")
def smart_upload():
    """Like /upload, but the variant may be found or created from the package's metadata."""
    refuse_oversized_body()
    return release_answer(variant_from_form(request.form, required=False))


@bp.post("/admin/api/parse-app")
@require_token("admin")
def parse_app():
    """Parse an uploaded package and return its metadata; nothing is stored."""
    refuse_oversized_body()
    received = received_file()
    info = inspect_package(received)
    if not info.is_app:
        raise ApiError(400, "only .ipa, .apk and .aab files can be parsed")
    existing = find_variant(info)
    return ok({
        "file_name": received.name,
        "size_bytes": received.size,
        "sha256": received.sha256,
        "package_type": info.package_type,
        "platform": info.platform,
        "identifier": info.identifier,
        "version": info.version,
        "build": info.build,
        "display_name": info.display_name,
        "min_os": info.min_os,
        "device_family": list(info.device_family),
        "has_icon": bool(info.icon),
        "icon": icon_data_url(info.icon),
        "provisioning_profile": profile_dict(profile_row(info.profile)) if info.profile else None,
        "variant_id": existing.id if existing else None,
    })


def icon_data_url(icon):
    """The parsed icon inline, for a page to show before anything is stored."""
    kind = image_type(icon) if icon else None
    return f"data:image/{kind};base64,{base64.b64encode(icon).decode()}" if kind else None


def release_answer(variant):
    fields = form_fields(request.form)
    release = uploads.add_release(received_file(), fields, request_client(), variant)
    return upload_answer(release)


def refuse_oversized_body(limit=None):
    """413 from Content-Length, before any of the body is read, past `limit` (by default the file limit plus the
    form's allowance)."""
    if (request.content_length or 0) > (limit or current_app.config["MAX_CONTENT_LENGTH"]):
        raise ApiError(413, upload_limit_message(current_app.config["FENFA"]["max_upload_mb"]))


def variant_from_form(form, required):
    variant_id = form.get("variant_id", "").strip()
    if not variant_id:
        if required:
            raise ApiError(400, "variant_id is required")
        return None
    return get_or_404(Variant, variant_id, "variant")


def form_fields(form):
    """The optional text fields of an upload form, validated; absent fields are left out."""
    fields = {}
    for name, limit in FORM_LIMITS.items():
        value = form.get(name, "").strip()
        if len(value) > limit:
            raise ApiError(400, f"{name} must be at most {limit} characters")
        # A changelog keeps its tabs and line breaks (a browser sends a textarea's as CRLF), and no other control
        # character.
        if name == "changelog" and has_control_characters(value, multiline=True):
            raise ApiError(400, "changelog must not contain control characters other than tabs and line breaks")
        if name != "changelog" and not value.isprintable():
            raise ApiError(400, f"{name} must be printable text without control characters")
        if value:
            fields[name] = value
    if "build" in fields and not is_ascii_number(fields["build"], max_digits=FORM_LIMITS["build"]):
        raise ApiError(400, "build must be a non-negative integer")
    return fields


def received_file():
    """The `app_file` part, already spooled to disk and hashed."""
    upload = request.files.get("app_file")
    if upload is None or not upload.filename:
        raise ApiError(400, "app_file is required")
    if not isinstance(upload.stream, HashingSpool):
        raise ApiError(400, "app_file must be sent as a file part")
    return received_from(upload.stream, upload.filename, "app_file")


def received_from(spool, file_name, what):
    """The file in `spool`, hashed in full, under its safe name; `what` names the file in errors."""
    spool.finish()
    if spool.size == 0:
        raise ApiError(400, f"{what} is empty")
    name = filetypes.safe_file_name(file_name)
    if not filetypes.extension_of(name):
        raise ApiError(400, f"{what} name has no extension")
    return ReceivedFile(name=name, path=spool.path, size=spool.size, sha256=spool.sha256)


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
