"""GET/PUT /admin/api/settings and GET /admin/api/upload-config."""
import re

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Blueprint, current_app

from fenfa_lib import current, validate
from fenfa_lib.api import ApiError, ok
from fenfa_lib.auth import require_token
from fenfa_lib.config import normalise_base_url
from fenfa_lib.files import s3_settings
from fenfa_lib.filetypes import EXTENSIONS
from fenfa_lib.models import Release, Settings, iso, utcnow
from fenfa_lib.storage import StorageError, build_storage
from fenfa_lib.urls import https_warnings

bp = Blueprint("settings_api", __name__, url_prefix="/admin/api")
URL_FIELDS = ("primary_domain", "upload_domain", "s3_endpoint", "s3_public_url")
SECRET_FIELDS = ("s3_access_key", "s3_secret_key", "apple_private_key")
PUBLIC_FIELDS = ("primary_domain", "secondary_domains", "organization", "storage_type", "s3_endpoint", "s3_region",
                 "s3_bucket", "s3_public_url", "s3_presign_seconds", "s3_path_style", "upload_domain", "apple_key_id",
                 "apple_issuer_id", "apple_team_id")
S3_CONNECTION_FIELDS = ("s3_endpoint", "s3_region", "s3_bucket", "s3_access_key", "s3_secret_key", "s3_path_style")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
REGION_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@bp.before_request
@require_token("admin")
def admin_only():
    """Every route here needs an admin token."""


@bp.get("/settings")
def get_settings():
    return ok(settings_dict(current.settings()))


@bp.put("/settings")
def put_settings():
    body = validate.json_object()
    settings = Settings.load()
    unknown = sorted(set(body) - set(PUBLIC_FIELDS + SECRET_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown setting(s): {', '.join(unknown)}")
    changes = {name: clean_value(name, value) for name, value in body.items()}
    for name, value in changes.items():
        setattr(settings, name, value)
    connection_changed = any(name in S3_CONNECTION_FIELDS for name in changes)
    newest_s3_release = Release.select().where(Release.storage == "s3").order_by(Release.created_at.desc()).first()
    if newest_s3_release and connection_changed:
        check_s3(settings, must_hold=newest_s3_release.storage_key)
    elif settings.storage_type == "s3" and (connection_changed or "storage_type" in changes):
        check_s3(settings)
    settings.updated_at = utcnow()
    settings.save()
    current.forget_settings()
    return ok(settings_dict(settings))


@bp.get("/upload-config")
def upload_config():
    settings = current.settings()
    limit_mb = current_app.config["FENFA"]["max_upload_mb"]
    return ok({
        "storage_type": settings.storage_type,
        "upload_domain": settings.upload_domain,
        "max_upload_mb": limit_mb,
        "max_upload_bytes": limit_mb * 1024 * 1024,
        "allowed_extensions": {platform: ["." + ext for ext in exts] for platform, exts in EXTENSIONS.items()},
    })


def settings_dict(settings):
    data = {name: getattr(settings, name) for name in PUBLIC_FIELDS}
    data["s3_configured"] = s3_configured(settings)
    data["apple_configured"] = bool(settings.apple_key_id and settings.apple_issuer_id and settings.apple_private_key)
    data["updated_at"] = iso(settings.updated_at)
    data["warnings"] = https_warnings()
    return data


def s3_configured(settings):
    return bool(settings.s3_bucket and settings.s3_access_key and settings.s3_secret_key)


def clean_value(name, value):
    """The validated value to store; `null` clears the field back to its default."""
    if value is None:
        default = Settings._meta.fields[name].default
        return default() if callable(default) else default
    if name in URL_FIELDS:
        return check_url(name, value)
    if name == "secondary_domains":
        if not isinstance(value, list):
            raise ApiError(400, "secondary_domains must be a list of URLs")
        return [check_url("secondary_domains", item) for item in value]
    if name == "storage_type":
        if value not in ("local", "s3"):
            raise ApiError(400, "storage_type must be local or s3")
        return value
    if name == "s3_path_style":
        return validate.boolean({name: value}, name)
    if name == "s3_presign_seconds":
        return validate.integer({name: value}, name, minimum=1, maximum=MAX_PRESIGN_SECONDS)
    if name == "apple_private_key":
        return check_private_key(value)
    if name in ("s3_region", "s3_bucket"):
        pattern = REGION_PATTERN if name == "s3_region" else BUCKET_PATTERN
        if not isinstance(value, str) or value and not pattern.fullmatch(value):
            raise ApiError(400, f"{name} is not a valid S3 {name[3:]} name")
        return value
    return validate.text({name: value}, name)


def check_url(name, value):
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a URL string")
    try:
        return normalise_base_url(value)
    except ValueError as exc:
        raise ApiError(400, f"{name} {exc}") from None


def check_private_key(value):
    if not isinstance(value, str):
        raise ApiError(400, "apple_private_key must be a PEM string")
    try:
        load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError):
        raise ApiError(400, "apple_private_key is not a PEM private key (the AuthKey_XXXX.p8 file)") from None
    return value.strip()


def check_s3(settings, must_hold=None):
    """400 unless the bucket answers, and (while releases are stored in S3) still holds `must_hold`."""
    try:
        storage = build_storage("s3", current_app.config["FENFA"]["data_dir"], s3_settings(settings))
        storage.check()
        if must_hold and not storage.exists(must_hold):
            raise StorageError(f"the bucket does not hold {must_hold}")
    except StorageError as exc:
        prefix = "releases stored in S3 need working S3 settings" if must_hold else "S3 storage is not usable"
        raise ApiError(400, f"{prefix}: {exc}") from exc
