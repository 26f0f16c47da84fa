"""Products and variants: validation rules, unique slugs, what the public may see, cascading deletes."""
import logging

from peewee import IntegrityError

from fenfa_lib import webhooks
from fenfa_lib.dialect import write_transaction
from fenfa_lib.errors import ApiError
from fenfa_lib.ids import MAX_SLUG_LENGTH, is_valid_slug, new_id, slugify
from fenfa_lib.models import Product, Release, Variant, db, utcnow
from fenfa_lib.packages.filetypes import EXTENSIONS as INSTALLER_TYPES
from fenfa_lib.release_files import remove_folders, stored_folders

log = logging.getLogger("fenfa")
MAX_SLUG_SUFFIX = 1000
SUFFIXED_SLUG_STEM = 58  # characters of a taken slug kept before its `-N`, leaving room for the suffix
PACKAGE_PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "macos": "macOS", "windows": "Windows", "linux": "Linux"}


def normalise_platform(platform):
    value = platform.strip().lower()
    if value not in INSTALLER_TYPES:
        raise ApiError(400, f"platform must be one of: {', '.join(INSTALLER_TYPES)}")
    return value


def check_slug(slug):
    if not is_valid_slug(slug):
        raise ApiError(400, f"slug must be lower-case letters, digits and single dashes (at most {MAX_SLUG_LENGTH})")
    return slug


def create_product(name, slug, description="", published=True, id=None, access="public", password_hash=""):
    """A new product (with `id` when given); a taken slug gets the first free `-2`, `-3`… suffix. `access` and
    `password_hash` come checked from access.access_changes."""
    check_slug(slug)
    for number in range(1, MAX_SLUG_SUFFIX):
        candidate = slug if number == 1 else f"{slug[:SUFFIXED_SLUG_STEM].rstrip('-')}-{number}"
        if Product.select().where(Product.slug == candidate).exists():
            continue
        try:
            with db.atomic():
                return Product.create(
                    id=id or new_id("product"), name=name, slug=candidate, description=description, published=published,
                    access=access, password_hash=password_hash,
                )
        except IntegrityError:
            continue
    raise ApiError(400, "no free slug left for this name")


def update_product(product, changes):
    if "slug" in changes and changes["slug"] != product.slug:
        check_slug(changes["slug"])
        if Product.select().where(Product.slug == changes["slug"]).exists():
            raise ApiError(400, "slug already exists")
    for field, value in changes.items():
        setattr(product, field, value)
    product.updated_at = utcnow()
    try:
        product.save(only=[*changes, "updated_at"])
    except IntegrityError:
        raise ApiError(400, "slug already exists") from None
    return product


def check_installer_type(platform, installer_type):
    if installer_type not in INSTALLER_TYPES[platform]:
        allowed = ", ".join(INSTALLER_TYPES[platform])
        raise ApiError(400, f"installer_type for {platform} must be one of: {allowed}")
    return installer_type


def create_variant(product, fields, id=None):
    platform = normalise_platform(fields.pop("platform"))
    installer_type = fields.pop("installer_type", None) or INSTALLER_TYPES[platform][0]
    check_installer_type(platform, installer_type)
    return Variant.create(
        id=id or new_id("variant"), product=product, platform=platform, installer_type=installer_type, **fields
    )


def find_variant(info, product_id=None):
    """The oldest variant (of `product_id`'s product, when given) with a parsed package's platform and
    identifier, or None."""
    condition = (Variant.platform == info.platform) & (Variant.identifier == info.identifier)
    if product_id:
        condition &= Variant.product == product_id
    return Variant.select().where(condition).order_by(Variant.created_at).first()


def find_or_create_variant(info, product_id=None, variant_id=None):
    """The package's variant, or a new product named after the app with a variant for it (with the given IDs)."""
    variant = find_variant(info)
    if variant:
        return variant
    name = info.display_name or info.identifier
    product = create_product(name=name, slug=slugify(name), id=product_id)
    return create_variant(product, {
        "platform": info.platform,
        "display_name": PACKAGE_PLATFORM_NAMES[info.platform],
        "identifier": info.identifier,
        "installer_type": info.package_type,
    }, id=variant_id)


def update_variant(variant, changes):
    """Apply `changes`; an empty installer type, or one the new platform does not take, becomes the
    platform's default."""
    platform = variant.platform
    if "platform" in changes:
        platform = changes["platform"] = normalise_platform(changes["platform"])
        if platform != variant.platform and variant.releases.exists():
            raise ApiError(400, "platform cannot change once the variant has releases")
    installer_type = changes.get("installer_type", variant.installer_type)
    if not installer_type or ("installer_type" not in changes and installer_type not in INSTALLER_TYPES[platform]):
        changes["installer_type"] = INSTALLER_TYPES[platform][0]
    for field, value in changes.items():
        setattr(variant, field, value)
    check_installer_type(variant.platform, variant.installer_type)
    variant.updated_at = utcnow()
    variant.save(only=[*changes, "updated_at"])
    return variant


def update_release(release, changes):
    """Apply `changes` (changelog, channel, pinned) to `release`."""
    for field, value in changes.items():
        setattr(release, field, value)
    if changes:
        release.save(only=list(changes))
    return release


def delete_rows(row, releases):
    """Delete `row` (its children go by cascade), then the files of `releases`, its releases. They are
    listed inside the write transaction, so an upload committing meanwhile cannot leave files behind."""
    with write_transaction():
        folders = stored_folders(releases)
        if isinstance(row, Release):  # a product or variant delete removes an app, not a build: no release.deleted
            webhooks.enqueue("release.deleted", row.variant.product, row.variant, row)
        elif isinstance(row, Product):
            webhooks.forget_product(row)
        row.delete_instance()
    remove_folders(folders)
    kind = type(row).__name__.lower()
    log.info("delete: %s %s and the files of %d releases", kind, row.id, len(folders),
             extra={"fields": {"event": "delete", f"{kind}_id": row.id, "releases": len(folders)}})
    return row.id


def delete_product(product):
    return delete_rows(product, Release.select().join(Variant).where(Variant.product == product))


def delete_variant(variant):
    return delete_rows(variant, variant.releases)


def delete_release(release):
    return delete_rows(release, [release])


def published_product(slug):
    """The published product at `slug`, or None."""
    return Product.get_or_none((Product.slug == slug) & Product.published)


def download_counts(release_ids):
    """{release id: its download count}, read now. Plain SQL: it runs on every request for a cached page's
    JSON, where building the query took most of the request's time."""
    if not release_ids:
        return {}
    marks = ", ".join([db.param] * len(release_ids))
    return dict(db.execute_sql(f'SELECT "id", "download_count" FROM "release" WHERE "id" IN ({marks})', release_ids))


def published_variant(variant_id, platform=None):
    """The published variant (of `platform`, when given) of a published product, its product joined; or None."""
    condition = (Variant.id == variant_id) & Variant.published & Product.published
    if platform:
        condition &= Variant.platform == platform
    return Variant.select(Variant, Product).join(Product).where(condition).first()


def published_release(release_id):
    """A release whose variant and product are both published, else 404."""
    release = (
        Release.select(Release, Variant, Product)
        .join(Variant)
        .join(Product)
        .where((Release.id == release_id) & Variant.published & Product.published)
        .first()
    )
    if release is None:
        raise ApiError(404, f"release {release_id} not found")
    return release
