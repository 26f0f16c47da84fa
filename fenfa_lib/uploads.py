"""Turning a received build file into a release: checks, parsed metadata, stored files, rows."""
import json
import logging
import re
from contextlib import contextmanager

from flask import request

from fenfa_lib import filetypes
from fenfa_lib.api import ApiError
from fenfa_lib.appinfo import PackageError
from fenfa_lib.catalog import find_or_create_variant
from fenfa_lib.events import record_event
from fenfa_lib.files import release_folder, storage_for
from fenfa_lib.ids import new_id
from fenfa_lib.images import image_type
from fenfa_lib.models import ProvisioningProfile, Release, Variant, db, iso, naive_utc, utcnow
from fenfa_lib.packages import parse_package
from fenfa_lib.spool import HashingSpool
from fenfa_lib.storage import StorageError
from fenfa_lib.text import is_ascii_number

log = logging.getLogger("fenfa")

FORM_LIMITS = {"version": 64, "build": 20, "channel": 32, "min_os": 32, "changelog": 20000}


def form_fields(form):
    """The optional text fields of an upload form, validated; absent fields are left out."""
    fields = {}
    for name, limit in FORM_LIMITS.items():
        value = form.get(name, "").strip()
        if len(value) > limit:
            raise ApiError(400, f"{name} must be at most {limit} characters")
        # A changelog keeps its tabs and line breaks (a browser sends a textarea's as CRLF), and no other control
        # character.
        if name == "changelog" and re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", value):
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
    spool = upload.stream
    if not isinstance(spool, HashingSpool):
        raise ApiError(400, "app_file must be sent as a file part")
    spool.finish()
    if spool.size == 0:
        raise ApiError(400, "app_file is empty")
    name = filetypes.safe_file_name(upload.filename)
    if not filetypes.extension_of(name):
        raise ApiError(400, "app_file name has no extension")
    return name, spool


def inspect_package(spool, file_name, platform=None):
    """Check the file is what its extension says; return parsed IPA/APK/AAB metadata or None."""
    extension = filetypes.extension_of(file_name)
    if platform and extension not in filetypes.EXTENSIONS[platform]:
        allowed = ", ".join("." + ext for ext in filetypes.EXTENSIONS[platform])
        raise ApiError(400, f".{extension} files are not accepted for {platform} (allowed: {allowed})")
    problem = filetypes.content_problem(spool.path, extension)
    if problem:
        raise ApiError(400, problem)
    try:
        return parse_package(spool.path, file_name)
    except PackageError as exc:
        raise ApiError(400, f"cannot read {file_name}: {exc}") from exc


def check_identifier(variant, info):
    """400 when the package names another app than the variant does."""
    if info and variant.identifier and info.identifier != variant.identifier:
        raise ApiError(
            400, f"package identifier {info.identifier} does not match the variant's identifier {variant.identifier}"
        )


def create_release(variant, file_name, spool, fields, info):
    """Store the files, then write every row in one short transaction: no write lock is held while a large
    file travels, and when the rows fail the stored files are deleted. With `variant` None (a smart upload of
    an app not seen before) the package's product and variant are created in that same transaction."""
    product_id, variant_id = (variant.product_id, variant.id) if variant else (new_id("product"), new_id("variant"))
    release_id = new_id("release")
    folder = release_folder(product_id, variant_id, release_id)
    storage = storage_for()
    icon_type = image_type(info.icon) if info and info.icon else None
    icon_key = f"{folder}/icon.{icon_type}" if icon_type else None
    values = release_values(release_id, folder, storage.kind, file_name, spool, fields, info, variant, icon_key)
    with removed_on_failure(storage, folder):
        storage.save_file(values["storage_key"], spool.path)
        if icon_key:
            storage.save_bytes(icon_key, info.icon, content_type=f"image/{icon_type}")
        meta = meta_json(values, product_id, variant_id)
        storage.save_bytes(f"{folder}/meta.json", meta, content_type="application/json")
        # IMMEDIATE takes the write lock at BEGIN (waiting for it like any writer), so the variant read below
        # cannot go stale before the inserts.
        with db.atomic("IMMEDIATE"):
            variant = current_variant(variant, info, product_id, variant_id)
            release = Release.create(variant=variant, **values)
            if info and info.profile:
                profile_row(info.profile, release).save()
            record_event("upload", product_id, variant_id, release_id)
    return release


@contextmanager
def removed_on_failure(storage, folder):
    """Delete the release folder when the block fails. A StorageError goes on to the app's handler, which
    logs it and answers 503 without its details (they name server paths and buckets)."""
    try:
        yield
    except BaseException:
        try:
            storage.delete_prefix(folder)
        except (StorageError, OSError) as cleanup_error:
            log.error("could not delete %s after a failed upload: %s", folder, cleanup_error)
        raise


def current_variant(variant, info, product_id, variant_id):
    """The release's variant as the transaction sees it, since storing the file took a while: read again
    (filling in an empty identifier), or found or created from the package with the planned IDs."""
    if variant is None:
        variant = find_or_create_variant(info, product_id, variant_id)
        if variant.id != variant_id:
            raise ApiError(409, f"an app with identifier {info.identifier} was added during the upload; "
                                "send the file again")
        return variant
    variant = Variant.get_or_none(Variant.id == variant_id)
    if variant is None:
        raise ApiError(404, f"variant {variant_id} was deleted during the upload")
    check_identifier(variant, info)
    if info and not variant.identifier:
        variant.identifier = info.identifier
        variant.save(only=[Variant.identifier])
    return variant


def release_values(release_id, folder, storage_kind, file_name, spool, fields, info, variant, icon_key):
    """The Release columns, known before the row exists so that meta.json can be stored first. Form fields
    win over parsed values; the variant (None when it is yet to be created) has the last word."""
    variant_min_os, variant_identifier = (variant.min_os, variant.identifier) if variant else ("", "")
    return {
        "id": release_id,
        "version": fields.get("version") or (info.version if info else "") or "",
        "build": fields.get("build") or (info.build if info else "") or "",
        "channel": fields.get("channel", ""),
        "changelog": fields.get("changelog", ""),
        "min_os": fields.get("min_os") or (info.min_os if info else "") or variant_min_os,
        "display_name": (info.display_name if info else "") or "",
        "identifier": (info.identifier if info else "") or variant_identifier,
        "file_name": file_name,
        "size_bytes": spool.size,
        "sha256": spool.sha256,
        "storage": storage_kind,
        "storage_key": f"{folder}/{file_name}",
        "icon_key": icon_key,
        "metadata": package_metadata(info),
        "created_at": utcnow(),
    }


def package_metadata(info):
    if info is None:
        return {}
    return {
        "package_type": info.package_type,
        "device_family": list(info.device_family or []),
        "target_os": info.target_os,
        "installable": info.installable,
    }


def profile_row(profile, release=None):
    """An unsaved ProvisioningProfile for a parsed profile: the one mapping for storing and for showing it."""
    return ProvisioningProfile(
        release=release,
        kind=profile.kind,
        name=profile.name or "",
        uuid=profile.uuid or "",
        team_id=profile.team_id or "",
        team_name=profile.team_name or "",
        app_id=profile.app_id or "",
        created_at=naive_utc(profile.created_at),
        expires_at=naive_utc(profile.expires_at),
        devices=list(profile.devices or []),
        certificates=[
            {"name": cert["name"], "expires_at": iso(naive_utc(cert.get("expires_at")))}
            for cert in profile.certificates or []
        ],
    )


def meta_json(values, product_id, variant_id):
    """A description stored beside the file, so a storage folder explains itself without the database."""
    return json.dumps({
        "release_id": values["id"],
        "variant_id": variant_id,
        "product_id": product_id,
        "file_name": values["file_name"],
        "size_bytes": values["size_bytes"],
        "sha256": values["sha256"],
        "version": values["version"],
        "build": values["build"],
        "identifier": values["identifier"],
        "created_at": iso(values["created_at"]),
    }, indent=2).encode()
