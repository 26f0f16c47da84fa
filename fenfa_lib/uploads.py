"""Turning a received build file into a release: checks, parsed metadata, stored files, rows."""
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from fenfa_lib import webhooks
from fenfa_lib.catalog import find_or_create_variant, find_variant
from fenfa_lib.errors import ApiError
from fenfa_lib.events import record_event
from fenfa_lib.ids import new_id
from fenfa_lib.models import ProvisioningProfile, Release, Variant, db, iso, naive_utc, utcnow
from fenfa_lib.packages import filetypes, parse_package
from fenfa_lib.packages.appinfo import PackageError
from fenfa_lib.packages.images import image_type
from fenfa_lib.release_files import release_folder, storage_for
from fenfa_lib.storage import StorageError

log = logging.getLogger("fenfa")


@dataclass(frozen=True)
class ReceivedFile:
    """An uploaded file, already on disk, with the size and SHA-256 counted while it arrived."""

    name: str
    path: str
    size: int
    sha256: str


def add_release(received, fields, client, variant=None):
    """The release made from `received` with the form's `fields`. Without `variant` (a smart upload that
    names none) the package's own variant is found, or created with its product."""
    info = inspect_package(received, variant.platform if variant else None)
    if variant is None:
        if not info.is_app:
            raise ApiError(400, "variant_id is required for files that are not .ipa, .apk or .aab")
        variant = find_variant(info)
    else:
        check_identifier(variant, info)
    return create_release(variant, received, fields, info, client)


def inspect_package(received, platform=None):
    """Check the file is what its extension says (and one `platform` takes); its parsed metadata."""
    extension = filetypes.extension_of(received.name)
    if platform and extension not in filetypes.EXTENSIONS[platform]:
        allowed = ", ".join("." + ext for ext in filetypes.EXTENSIONS[platform])
        raise ApiError(400, f".{extension} files are not accepted for {platform} (allowed: {allowed})")
    problem = filetypes.content_problem(received.path, extension)
    if problem:
        raise ApiError(400, problem)
    try:
        return parse_package(received.path, received.name)
    except PackageError as exc:
        raise ApiError(400, f"cannot read {received.name}: {exc}") from exc


def check_identifier(variant, info):
    """400 when the package names another app than the variant does."""
    if info.is_app and variant.identifier and info.identifier != variant.identifier:
        raise ApiError(
            400, f"package identifier {info.identifier} does not match the variant's identifier {variant.identifier}"
        )


def create_release(variant, received, fields, info, client):
    """Store the files, then write every row in one short transaction: no write lock is held while a large
    file travels, and when the rows fail the stored files are deleted. With `variant` None (a smart upload of
    an app not seen before) the package's product and variant are created in that same transaction."""
    product_id, variant_id = (variant.product_id, variant.id) if variant else (new_id("product"), new_id("variant"))
    release_id = new_id("release")
    folder = release_folder(product_id, variant_id, release_id)
    storage = storage_for()
    icon_type = image_type(info.icon) if info.icon else None
    icon_key = f"{folder}/icon.{icon_type}" if icon_type else None
    values = release_values(release_id, folder, storage.kind, received, fields, info, variant, icon_key)
    with removed_on_failure(storage, folder):
        storage.save_file(values["storage_key"], received.path)
        if icon_key:
            storage.save_bytes(icon_key, info.icon, content_type=f"image/{icon_type}")
        meta = meta_json(values, product_id, variant_id)
        storage.save_bytes(f"{folder}/meta.json", meta, content_type="application/json")
        # IMMEDIATE takes the write lock at BEGIN (waiting for it like any writer), so the variant read below
        # cannot go stale before the inserts.
        with db.atomic("IMMEDIATE"):
            variant = current_variant(variant, info, product_id, variant_id)
            release = Release.create(variant=variant, **values)
            if info.profile:
                profile_row(info.profile, release).save()
            record_event("upload", client, product_id, variant_id, release_id)
            webhooks.enqueue("release.created", variant.product, variant, release)
    log.info("upload: release %s of variant %s (product %s), %s, %d bytes, sha256 %s", release_id, variant_id,
             product_id, received.name, received.size, received.sha256,
             extra={"fields": {"event": "upload", "release_id": release_id, "variant_id": variant_id,
                               "product_id": product_id, "size_bytes": received.size}})
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
    if info.is_app and not variant.identifier:
        variant.identifier = info.identifier
        variant.save(only=[Variant.identifier])
    return variant


def release_values(release_id, folder, storage_kind, received, fields, info, variant, icon_key):
    """The Release columns, known before the row exists so that meta.json can be stored first. Form fields
    win over parsed values; the variant (None when it is yet to be created) has the last word."""
    variant_min_os, variant_identifier = (variant.min_os, variant.identifier) if variant else ("", "")
    return {
        "id": release_id,
        "version": fields.get("version") or info.version,
        "build": fields.get("build") or info.build,
        "channel": fields.get("channel", ""),
        "changelog": fields.get("changelog", ""),
        "min_os": fields.get("min_os") or info.min_os or variant_min_os,
        "display_name": info.display_name,
        "identifier": info.identifier or variant_identifier,
        "file_name": received.name,
        "size_bytes": received.size,
        "sha256": received.sha256,
        "storage": storage_kind,
        "storage_key": f"{folder}/{received.name}",
        "icon_key": icon_key,
        "metadata": package_metadata(info),
        "created_at": utcnow(),
    }


def package_metadata(info):
    if not info.is_app:
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
