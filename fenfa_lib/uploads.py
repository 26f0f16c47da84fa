"""Turning a received build file into a release: checks, parsed metadata, stored files, rows."""
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from fenfa_lib import retention, webhooks
from fenfa_lib.catalog import find_or_create_variant, find_variant
from fenfa_lib.dialect import write_transaction
from fenfa_lib.errors import ApiError
from fenfa_lib.events import record_event
from fenfa_lib.ids import new_id
from fenfa_lib.models import ProvisioningProfile, Release, Variant, iso, naive_utc, utcnow
from fenfa_lib.packages import filetypes, parse_package
from fenfa_lib.packages.appinfo import AppInfo, PackageError
from fenfa_lib.packages.images import image_type
from fenfa_lib.release_files import release_folder, storage_for
from fenfa_lib.storage import StorageError

log = logging.getLogger("fenfa")
CI_FIELDS = ("branch", "git_commit", "ci_url", "source")  # where a build came from, as its CI tells
PROFILE_EXPIRY_WARNING = timedelta(days=14)  # a profile expiring sooner than this is worth a warning


@dataclass(frozen=True)
class ReceivedFile:
    """An uploaded file, already on disk, with the size and SHA-256 counted while it arrived."""

    name: str
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class AddedRelease:
    """What an upload made: its release (an earlier one of the same file when `duplicate`, and then nothing was
    stored), and the warnings its uploader should read."""

    release: Release
    duplicate: bool = False
    warnings: tuple = ()


class DuplicateFound(Exception):
    """The file became a release of the variant while this upload was being stored: roll it back."""

    def __init__(self, release):
        super().__init__(release.id)
        self.release = release


def add_release(received, fields, client, variant=None, may_create=False, skip_duplicate=False, product_id=None):
    """The release made from `received` with the form's `fields`, then the variant's retention applied. Without
    `variant` (a smart upload that names none) the package's own variant is found, or, when `may_create`,
    created with its product. With `skip_duplicate`, a file the variant already has a release of is answered
    with that release and nothing is stored. With `product_id` (a named upload token's product) only that
    product's variants take uploads."""
    if variant is not None and product_id and variant.product_id != product_id:
        raise ApiError(403, f"this token may upload only to the variants of product {product_id}")
    info = inspect_package(received, variant.platform if variant else None)
    if variant is None:
        variant = package_variant(info, may_create, product_id)
    else:
        check_identifier(variant, info)
    earlier = release_of_file(variant, received.sha256) if skip_duplicate and variant else None
    if earlier:
        return duplicate_of(earlier, received)
    try:
        added = create_release(variant, received, fields, info, client, skip_duplicate)
    except DuplicateFound as found:
        return duplicate_of(found.release, received)
    retention.prune_releases(added.release.variant_id, added.release.id)
    return added


def package_variant(info, may_create, product_id=None):
    """The existing variant of an app package (within `product_id`'s product when given), or None for one to
    create; 403 when the caller may not create."""
    if not info.names_itself:
        raise ApiError(400, "variant_id is required for a file that does not name its app (only .ipa, .apk, .aab, "
                            ".deb, .rpm, .msi, .msix, .pkg and macOS .zip files do)")
    variant = find_variant(info, product_id)
    if variant is None and product_id:
        raise ApiError(403, f"product {product_id}, the only one this token may upload to, has no variant with "
                            f"platform {info.platform} and identifier {info.identifier}")
    if variant is None and not may_create:
        raise ApiError(403, f"no variant has platform {info.platform} and identifier {info.identifier}: an admin "
                            "must create it (or smart-upload this build with an admin token) before an upload token "
                            "can upload to it")
    return variant


def release_of_file(variant, sha256):
    """The oldest release of `variant` whose file has this SHA-256, or None."""
    query = Release.select().where((Release.variant == variant.id) & (Release.sha256 == sha256))
    return query.order_by(Release.created_at, Release.id).first()


def duplicate_of(release, received):
    """The answer for a file the variant already has: no row, no file, no event (no release was made)."""
    log.info("upload: %s is release %s of variant %s already; nothing stored", received.name, release.id,
             release.variant_id, extra={"fields": {"event": "upload_duplicate", "release_id": release.id,
                                                   "variant_id": release.variant_id}})
    return AddedRelease(release, duplicate=True, warnings=tuple(profile_warnings(next(iter(release.profiles), None))))


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
        info = parse_package(received.path, received.name)
    except PackageError as exc:
        raise ApiError(400, f"cannot read {received.name}: {exc}") from exc
    if platform and info.platform and info.platform != platform:
        return AppInfo()  # say a macOS app in a .zip for a Windows variant: what it says is not this variant's
    return info


def check_identifier(variant, info):
    """400 when the package names another app than the variant does."""
    if info.is_app and variant.identifier and info.identifier != variant.identifier:
        raise ApiError(
            400, f"package identifier {info.identifier} does not match the variant's identifier {variant.identifier}"
        )


def create_release(variant, received, fields, info, client, skip_duplicate=False):
    """Store the files, then write every row in one short transaction: no write lock is held while a large
    file travels, and when the rows fail the stored files are deleted. With `variant` None (a smart upload of
    an app not seen before) the package's product and variant are created in that same transaction. With
    `skip_duplicate`, a release of the same file committed meanwhile (a retry of a slow upload) raises
    DuplicateFound once this one is undone."""
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
        # One writer transaction at a time (see write_transaction), so the variant read below cannot go stale
        # before the inserts.
        with write_transaction():
            variant, adopted = current_variant(variant, info, product_id, variant_id)
            earlier = release_of_file(variant, received.sha256) if skip_duplicate else None
            if earlier:
                raise DuplicateFound(earlier)
            release = Release.create(variant=variant, **values)
            profile = profile_row(info.profile, release) if info.profile else None
            if profile:
                profile.save()
            record_event("upload", client, product_id, variant_id, release_id)
            webhooks.enqueue("release.created", variant.product, variant, release)
    log.info("upload: release %s of variant %s (product %s), %s, %d bytes, sha256 %s", release_id, variant_id,
             product_id, received.name, received.size, received.sha256,
             extra={"fields": {"event": "upload", "release_id": release_id, "variant_id": variant_id,
                               "product_id": product_id, "size_bytes": received.size}})
    adoption = [f"the variant had no identifier and took {variant.identifier} from this package: later uploads "
                "to it must have that identifier"] if adopted else []
    return AddedRelease(release, warnings=(*profile_warnings(profile), *adoption))


def profile_warnings(profile, now=None):
    """What the uploader of a build signed with `profile` (a ProvisioningProfile row, or None) should know."""
    if profile is None:
        return []
    warnings = []
    if profile.kind == "app-store":
        warnings.append("this IPA is signed for the App Store: devices install it only through TestFlight or the "
                        "App Store, not from its page here")
    now = now or utcnow()
    expires_at = profile.expires_at
    if expires_at and expires_at <= now:
        warnings.append(f"the provisioning profile expired on {expires_at:%Y-%m-%d}: iOS refuses to install this "
                        "build")
    elif expires_at and expires_at - now <= PROFILE_EXPIRY_WARNING:
        warnings.append(f"the provisioning profile expires on {expires_at:%Y-%m-%d} (in less than "
                        f"{PROFILE_EXPIRY_WARNING.days} days): iOS refuses to install this build after that")
    return warnings


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
    """(the release's variant as the transaction sees it, since storing the file took a while, whether it
    adopted the package's identifier): read again (an empty identifier filled in), or found or created from
    the package with the planned IDs."""
    if variant is None:
        variant = find_or_create_variant(info, product_id, variant_id)
        if variant.id != variant_id:
            raise ApiError(409, f"an app with identifier {info.identifier} was added during the upload; "
                                "send the file again")
        return variant, False
    variant = Variant.get_or_none(Variant.id == variant_id)
    if variant is None:
        raise ApiError(404, f"variant {variant_id} was deleted during the upload")
    check_identifier(variant, info)
    adopted = info.is_app and not variant.identifier
    if adopted:
        variant.identifier = info.identifier
        variant.save(only=[Variant.identifier])
    return variant, adopted


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
        **{name: fields.get(name, "") for name in CI_FIELDS},
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
    """release.metadata: what the parser read for admins (permissions, entitlements, signer...), with the facts
    the install verdict reads; a desktop file's own fields; nothing for a file that said nothing."""
    if not info.is_app:
        return {**info.metadata, "package_type": info.package_type} if info.package_type else {}
    return {
        **info.metadata,
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
