"""Turning a received build file into a release: checks, parsed metadata, stored files, rows."""
import json

from flask import request

from fenfa_lib import filetypes
from fenfa_lib.api import ApiError
from fenfa_lib.appinfo import PackageError
from fenfa_lib.files import release_folder, storage_for
from fenfa_lib.ids import new_id
from fenfa_lib.images import image_type
from fenfa_lib.models import ProvisioningProfile, Release, db, iso, naive_utc
from fenfa_lib.packages import parse_package
from fenfa_lib.spool import HashingSpool
from fenfa_lib.storage import StorageError

FORM_LIMITS = {"version": 64, "build": 20, "channel": 32, "min_os": 32, "changelog": 20000}


def form_fields(form):
    """The optional text fields of an upload form, validated; absent fields are left out."""
    fields = {}
    for name, limit in FORM_LIMITS.items():
        value = form.get(name, "").strip()
        if len(value) > limit:
            raise ApiError(400, f"{name} must be at most {limit} characters")
        if value:
            fields[name] = value
    if "build" in fields and not fields["build"].isdigit():
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
    if info and variant.identifier and info.identifier != variant.identifier:
        raise ApiError(
            400, f"package identifier {info.identifier} does not match the variant's identifier {variant.identifier}"
        )


def create_release(variant, file_name, spool, fields, info):
    """Store the file and write the rows as one unit: on any failure neither is left behind."""
    release_id = new_id("release")
    folder = release_folder(variant.product_id, variant.id, release_id)
    storage = storage_for()
    icon = info.icon if info and image_type(info.icon or b"") else None
    try:
        with db.atomic():
            if info and not variant.identifier:
                variant.identifier = info.identifier
                variant.save()
            release = Release.create(
                id=release_id,
                variant=variant,
                version=fields.get("version") or (info.version if info else "") or "",
                build=fields.get("build") or (info.build if info else "") or "",
                channel=fields.get("channel", ""),
                changelog=fields.get("changelog", ""),
                min_os=fields.get("min_os") or (info.min_os if info else "") or variant.min_os,
                display_name=(info.display_name if info else "") or "",
                identifier=(info.identifier if info else "") or variant.identifier,
                file_name=file_name,
                size_bytes=spool.size,
                sha256=spool.sha256,
                storage=storage.kind,
                storage_key=f"{folder}/{file_name}",
                icon_key=f"{folder}/icon.{image_type(icon)}" if icon else None,
                metadata=package_metadata(info),
            )
            if info and info.profile:
                save_profile(release, info.profile)
            storage.save_file(release.storage_key, spool.path)
            if icon:
                storage.save_bytes(release.icon_key, icon, content_type=f"image/{image_type(icon)}")
            storage.save_bytes(f"{folder}/meta.json", meta_json(release), content_type="application/json")
    except BaseException as exc:
        try:
            storage.delete_prefix(folder)
        except (StorageError, OSError):
            pass
        if isinstance(exc, StorageError):
            raise ApiError(500, f"could not store the file: {exc}") from exc
        raise
    return release


def package_metadata(info):
    if info is None:
        return {}
    return {
        "package_type": info.package_type,
        "display_name": info.display_name,
        "device_family": list(info.device_family or []),
        "target_os": info.target_os,
        "installable": info.installable,
    }


def save_profile(release, profile):
    ProvisioningProfile.create(
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


def meta_json(release):
    """A description stored beside the file, so a storage folder explains itself without the database."""
    return json.dumps({
        "release_id": release.id,
        "variant_id": release.variant_id,
        "product_id": release.variant.product_id,
        "file_name": release.file_name,
        "size_bytes": release.size_bytes,
        "sha256": release.sha256,
        "version": release.version,
        "build": release.build,
        "identifier": release.identifier,
        "created_at": iso(release.created_at),
    }, indent=2).encode()
