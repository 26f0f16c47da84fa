"""POST /upload (upload token), smart upload and parse-only (admin token)."""
from flask import Blueprint, current_app, request

from fenfa_lib import urls
from fenfa_lib.api import ApiError, ok
from fenfa_lib.auth import require_token
from fenfa_lib.catalog import create_product, create_variant
from fenfa_lib.events import record_event
from fenfa_lib.ids import slugify
from fenfa_lib.models import Variant, db, iso, naive_utc
from fenfa_lib.uploads import check_identifier, create_release, form_fields, inspect_package, received_file

bp = Blueprint("upload", __name__)
FORM_ALLOWANCE = 1024 * 1024
PACKAGE_PLATFORMS = {"ipa": "ios", "apk": "android", "aab": "android"}


def refuse_oversized_body():
    """413 from Content-Length before any of the body is read."""
    limit_mb = current_app.config["FENFA"]["max_upload_mb"]
    if (request.content_length or 0) > limit_mb * 1024 * 1024 + FORM_ALLOWANCE:
        raise ApiError(413, f"upload is larger than the {limit_mb} MB limit")


def variant_from_form(required):
    variant_id = request.form.get("variant_id", "").strip()
    if not variant_id:
        if required:
            raise ApiError(400, "variant_id is required")
        return None
    variant = Variant.get_or_none(Variant.id == variant_id)
    if variant is None:
        raise ApiError(404, f"variant {variant_id} not found")
    return variant


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
    with db.atomic():
        variant = find_or_create_variant(info)
        release = create_release(variant, file_name, spool, fields, info)
    return created(release)


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
        "provisioning_profile": summarise_profile(info.profile),
        "variant_id": existing.id if existing else None,
    })


def store_upload(variant):
    fields = form_fields(request.form)
    file_name, spool = received_file()
    info = inspect_package(spool, file_name, variant.platform)
    check_identifier(variant, info)
    return created(create_release(variant, file_name, spool, fields, info))


def find_variant(info):
    platform = PACKAGE_PLATFORMS[info.package_type]
    query = Variant.select().where((Variant.platform == platform) & (Variant.identifier == info.identifier))
    return query.order_by(Variant.created_at).first()


def find_or_create_variant(info):
    variant = find_variant(info)
    if variant:
        return variant
    name = info.display_name or info.identifier
    product = create_product(name=name, slug=slugify(name))
    platform = PACKAGE_PLATFORMS[info.package_type]
    return create_variant(product, {
        "platform": platform,
        "display_name": {"ios": "iOS", "android": "Android"}[platform],
        "identifier": info.identifier,
        "installer_type": info.package_type,
    })


def summarise_profile(profile):
    if profile is None:
        return None
    return {
        "type": profile.kind,
        "name": profile.name,
        "team_name": profile.team_name,
        "expires_at": iso(naive_utc(profile.expires_at)),
        "device_count": len(profile.devices or []),
    }


def created(release):
    variant = release.variant
    product = variant.product
    record_event("upload", product.id, variant.id, release.id)
    result = {
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
        "urls": {
            "page": urls.page_url(product.slug),
            "release_page": urls.page_url(product.slug, release.id),
            "download": urls.download_url(release.id),
            "qrcode": urls.qrcode_url(product.slug),
        },
    }
    if variant.platform == "ios":
        result["urls"]["ios_manifest"] = urls.manifest_url(release.id)
        result["urls"]["ios_install"] = urls.ios_install_url(release.id)
    return ok(result, 201)
