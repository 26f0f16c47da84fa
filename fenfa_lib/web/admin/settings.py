"""GET/PUT /admin/api/settings and GET /admin/api/upload-config."""
import logging
import re

from flask import Blueprint, current_app

from fenfa_lib import apple, current
from fenfa_lib.config import normalise_base_url, upload_limit_bytes
from fenfa_lib.errors import ApiError
from fenfa_lib.models import NEWEST_FIRST, Release, Settings, iso, utcnow
from fenfa_lib.packages.filetypes import EXTENSIONS
from fenfa_lib.release_files import storage_for
from fenfa_lib.storage import S3_CONNECTION_KEYS, S3_REQUIRED_KEYS, S3_SECRET_KEYS, StorageError
from fenfa_lib.web import validate
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.urls import https_warnings

log = logging.getLogger("fenfa")
bp = Blueprint("settings_api", __name__, url_prefix="/admin/api")
require_admin(bp)
URL_FIELDS = ("primary_domain", "upload_domain", "s3_endpoint", "s3_public_url")
SECRET_FIELDS = (*S3_SECRET_KEYS, "apple_private_key")  # write-only: saved, never shown
PUBLIC_FIELDS = tuple(name for name in Settings._meta.sorted_field_names
                      if name not in ("id", "updated_at", *SECRET_FIELDS))
STORAGE_TYPES = ("local", "s3")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
MAX_RETENTION_DAYS = 100 * 366
REGION_PATTERN = re.compile(r"[a-z0-9-]{1,32}")
BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@bp.get("/settings")
def get_settings():
    return ok(settings_dict(current.settings()))


@bp.put("/settings")
def put_settings():
    body = validate.json_object()
    settings = Settings.load()
    changes = cleaned_changes(body)
    for name, value in changes.items():
        setattr(settings, name, value)
    check_storage_change(settings, changes)
    settings.updated_at = utcnow()
    settings.save()
    current.forget_settings()
    log.info("settings: changed %s", ", ".join(sorted(changes)) or "nothing",
             extra={"fields": {"event": "settings", "changed": sorted(changes)}})
    return ok(settings_dict(settings))


@bp.get("/upload-config")
def upload_config():
    settings = current.settings()
    config = current_app.config["FENFA"]
    return ok({
        "storage_type": settings.storage_type,
        "upload_domain": settings.upload_domain,
        "max_upload_mb": config["max_upload_mb"],
        "max_upload_bytes": upload_limit_bytes(config),
        "allowed_extensions": {platform: ["." + ext for ext in exts] for platform, exts in EXTENSIONS.items()},
    })


def settings_dict(settings):
    data = {name: getattr(settings, name) for name in PUBLIC_FIELDS}
    data["s3_configured"] = s3_configured(settings)
    data["apple_configured"] = not apple.missing_settings(settings)
    data["updated_at"] = iso(settings.updated_at)
    data["warnings"] = https_warnings()
    return data


def s3_configured(settings):
    return all(getattr(settings, name) for name in S3_REQUIRED_KEYS)


def cleaned_changes(body):
    """The body's settings, validated; 400 naming any setting that does not exist."""
    validate.known_fields(body, PUBLIC_FIELDS + SECRET_FIELDS, what="setting")
    return {name: clean_value(name, value) for name, value in body.items()}


def clean_value(name, value):
    """The validated value to store; `null` clears the field back to its default."""
    if value is None:
        default = Settings._meta.fields[name].default
        return default() if callable(default) else default
    return VALUE_CHECKS.get(name, check_text)(name, value)


def check_text(name, value):
    return validate.text({name: value}, name)


def check_url(name, value):
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a URL string")
    try:
        return normalise_base_url(value)
    except ValueError as exc:
        raise ApiError(400, f"{name} {exc}") from None


def check_url_list(name, value):
    if not isinstance(value, list):
        raise ApiError(400, f"{name} must be a list of URLs")
    return [check_url(name, item) for item in value]


def check_storage_type(name, value):
    if value not in STORAGE_TYPES:
        raise ApiError(400, f"{name} must be local or s3")
    return value


def check_s3_name(pattern):
    """A check for an S3 region or bucket name: empty, or matching `pattern`."""

    def check(name, value):
        if not isinstance(value, str) or value and not pattern.fullmatch(value):
            raise ApiError(400, f"{name} is not a valid S3 {name.removeprefix('s3_')} name")
        return value

    return check


def check_boolean(name, value):
    return validate.boolean({name: value}, name)


def check_presign_seconds(name, value):
    return validate.integer({name: value}, name, minimum=1, maximum=MAX_PRESIGN_SECONDS)


def check_retention_days(name, value):
    return validate.integer({name: value}, name, minimum=1, maximum=MAX_RETENTION_DAYS)


def check_private_key(name, value):
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a PEM string")
    try:
        apple.check_private_key(value)
    except apple.AppleKeyError as exc:
        raise ApiError(400, f"{name} {exc}") from None
    return value.strip()


VALUE_CHECKS = {  # settings missing here are plain text
    **dict.fromkeys(URL_FIELDS, check_url),
    "secondary_domains": check_url_list,
    "storage_type": check_storage_type,
    "s3_region": check_s3_name(REGION_PATTERN),
    "s3_bucket": check_s3_name(BUCKET_PATTERN),
    "s3_path_style": check_boolean,
    "s3_presign_seconds": check_presign_seconds,
    "apple_private_key": check_private_key,
    "events_retention_days": check_retention_days,
}


def check_storage_change(settings, changes):
    """400 unless `settings`, with `changes` applied, still reach the releases stored in S3 and, when new
    uploads go to S3, a bucket that answers."""
    connection_changed = any(name in S3_CONNECTION_KEYS for name in changes)
    newest_s3_release = Release.select().where(Release.storage == "s3").order_by(*NEWEST_FIRST).first()
    if newest_s3_release and connection_changed:
        check_s3(settings, must_hold=newest_s3_release.storage_key)
    elif settings.storage_type == "s3" and (connection_changed or "storage_type" in changes):
        check_s3(settings)


def check_s3(settings, must_hold=None):
    """400 unless the bucket answers, and (while releases are stored in S3) still holds `must_hold`."""
    try:
        storage = storage_for("s3", settings)
        storage.check()
        if must_hold and not storage.exists(must_hold):
            raise StorageError(f"the bucket does not hold {must_hold}")
    except StorageError as exc:
        prefix = "releases stored in S3 need working S3 settings" if must_hold else "S3 storage is not usable"
        raise ApiError(400, f"{prefix}: {exc}") from exc
