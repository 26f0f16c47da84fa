"""POST /upload and PUT /upload/<file_name>, smart upload and parse-only (upload token; only an admin's smart
upload creates products and variants; a named upload token with a product uploads only to its variants)."""
import base64
import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app, request

from fenfa_lib import uploads
from fenfa_lib.catalog import find_variant
from fenfa_lib.config import upload_limit_bytes
from fenfa_lib.errors import ApiError
from fenfa_lib.models import Variant
from fenfa_lib.packages import filetypes
from fenfa_lib.packages.images import image_type
from fenfa_lib.text import has_control_characters, is_ascii_number, is_single_token
from fenfa_lib.uploads import ReceivedFile, inspect_package, profile_row
from fenfa_lib.web import urls
from fenfa_lib.web.auth import granted_product_id, granted_scope, require_token
from fenfa_lib.web.client import request_client
from fenfa_lib.web.envelope import ok, upload_limit_message
from fenfa_lib.web.shapes import profile_dict, uploaded_release_dict
from fenfa_lib.web.spool import HashingSpool
from fenfa_lib.web.urls import release_links
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("upload", __name__)
FORM_LIMITS = {"version": 64, "build": 20, "channel": 32, "min_os": 32, "changelog": 20000,
               "branch": 200, "git_commit": 64, "ci_url": 2048, "source": 32}
GIT_COMMIT = re.compile("[0-9a-f]{7,64}")
FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


@bp.post("/upload")
@require_token("upload")
def upload():
    refuse_oversized_body()
    variant = variant_from_form(request.form, required=True)
    return release_answer(request.form, received_file(), variant)


@bp.put("/upload/<file_name>")
@require_token("upload")
def upload_raw(file_name):
    """The same upload with the file as the whole body (`curl -T`) and the form's fields as query parameters:
    the body is the spool the release is renamed from."""
    refuse_oversized_body(upload_limit_bytes(current_app.config["FENFA"]))
    variant = variant_from_form(request.args, required=True)
    return release_answer(request.args, received_from(request.body_spool(), file_name, "the file"), variant)


@bp.post("/admin/api/smart-upload")
@require_token("upload")
def smart_upload():
    """Like /upload, but the variant may be found by the package's platform and identifier (or, for an admin,
    created with a product)."""
    refuse_oversized_body()
    variant = variant_from_form(request.form, required=False)
    return release_answer(request.form, received_file(), variant)


@bp.post("/admin/api/parse-app")
@require_token("upload")
def parse_app():
    """Parse an uploaded package and return its metadata; nothing is stored."""
    refuse_oversized_body()
    received = received_file()
    info = inspect_package(received)
    if not info.package_type:
        raise ApiError(400, "this file says nothing about itself: only .ipa, .apk, .aab, .deb, .rpm, .msi, .exe, "
                            ".msix, .pkg, .AppImage and macOS .zip files can be parsed")
    existing = find_variant(info, granted_product_id())
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


def release_answer(form, received, variant):
    """Add the release of `received` with the fields of `form` (a form, or a raw upload's query) and answer it."""
    added = uploads.add_release(received, form_fields(form), request_client(), variant,
                                may_create=granted_scope() == "admin", skip_duplicate=flag(form, "skip_duplicate"),
                                product_id=granted_product_id())
    return upload_answer(added)


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
    if "git_commit" in fields:
        fields["git_commit"] = fields["git_commit"].lower()
        if not GIT_COMMIT.fullmatch(fields["git_commit"]):
            raise ApiError(400, "git_commit must be 7 to 64 hexadecimal characters")
    if "ci_url" in fields and not is_web_url(fields["ci_url"]):
        raise ApiError(400, "ci_url must be an http:// or https:// URL")
    return fields


def is_web_url(text):
    """Whether `text` is one http(s) URL with a host (and, if any, a valid port)."""
    try:
        parts = urlsplit(text)
        port_is_valid = parts.port is None or parts.port > 0  # .port raises ValueError for a bad one
    except ValueError:
        return False
    return is_single_token(text) and parts.scheme in ("http", "https") and bool(parts.hostname) and port_is_valid


def flag(form, name):
    """A true/false field of `form` (also 1/0; absent is false); 400 for anything else."""
    value = form.get(name, "").strip().lower()
    if value not in FLAGS:
        raise ApiError(400, f"{name} must be true or false")
    return FLAGS[value]


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


def upload_answer(added):
    """201 with the release, its app, its public URLs and warnings for the uploader; 200 with the earlier release
    for a skipped duplicate."""
    release = added.release
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
        "release": uploaded_release_dict(release),
        "urls": upload_urls(release, variant, product),
        "duplicate": added.duplicate,
        "warnings": [*added.warnings, *urls.https_warnings()],
    }, 200 if added.duplicate else 201)


def upload_urls(release, variant, product):
    """The product's page and QR code, and the release's own links (whose "page" is the release page)."""
    links = release_links(release, variant, product.slug)
    return {
        "page": urls.page_url(product.slug),
        "release_page": links.pop("page"),
        **links,
        "qrcode": urls.qrcode_url(product.slug),
    }
