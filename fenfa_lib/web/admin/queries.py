"""The filtered queries behind the admin lists and CSV exports; each reads its filters from the query string."""
import re

from flask import request
from peewee import JOIN, fn, prefetch

from fenfa_lib.catalog import normalise_platform
from fenfa_lib.dialect import comma_joined
from fenfa_lib.errors import ApiError
from fenfa_lib.events import EVENT_TYPES
from fenfa_lib.models import (
    NEWEST_FIRST,
    DeviceBinding,
    Event,
    IOSDevice,
    Product,
    ProvisioningProfile,
    Release,
    Variant,
)
from fenfa_lib.web import validate

EVENT_ID_FILTERS = {"product_id": Event.product_id, "variant_id": Event.variant_id, "release_id": Event.release_id}
RELEASE_FILTERS = {"product_id": Variant.product, "variant_id": Release.variant, "version": Release.version,
                   "build": Release.build, "channel": Release.channel}
HEX_FILTERS = {"git_commit": (re.compile("[0-9a-f]{7,64}"), "7 to 64"), "sha256": (re.compile("[0-9a-f]{64}"), "64")}


def filtered_products():
    """Products matching the query string's `q` (name or slug), newest first, each with its `variant_count`."""
    query = (
        Product.select(Product, fn.COUNT(Variant.id).alias("variant_count"))
        .join(Variant, JOIN.LEFT_OUTER)
        .group_by(Product.id)
        .order_by(Product.created_at.desc(), Product.id)
    )
    term = request.args.get("q", "").strip()
    if term:
        query = query.where(Product.name.contains(term) | Product.slug.contains(term))
    return query


def variants_with_releases(product):
    """[(variant, its releases newest first, profiles loaded)] of a product, in the admin's sort order: two
    queries however many releases there are."""
    variants = list(product.variants.order_by(Variant.sort_order, Variant.created_at))
    releases = Release.select().join(Variant).where(Variant.product == product).order_by(*NEWEST_FIRST)
    by_variant = {}
    for release in prefetch(releases, ProvisioningProfile):
        by_variant.setdefault(release.variant_id, []).append(release)
    return [(variant, by_variant.get(variant.id, [])) for variant in variants]


def filtered_events():
    """Events matching the query string's type, ID and time filters, newest first."""
    query = Event.select()
    event_type = request.args.get("type", "").strip()
    if event_type:
        if event_type not in EVENT_TYPES:
            raise ApiError(400, f"type must be one of: {', '.join(EVENT_TYPES)}")
        query = query.where(Event.type == event_type)
    query = where_ids(query, EVENT_ID_FILTERS)
    return validate.within_time_range(query, Event.ts).order_by(Event.ts.desc(), Event.id.desc())


def filtered_devices():
    """Devices matching `variant_id`, `q` (UDID, name, model, serial), `from`/`to` (created), newest first,
    each with `variant_ids`: the comma-joined variants it is bound to."""
    variant_ids = comma_joined(DeviceBinding.variant).alias("variant_ids")
    query = IOSDevice.select(IOSDevice, variant_ids).join(DeviceBinding, JOIN.LEFT_OUTER).group_by(IOSDevice.id)
    variant_id = request.args.get("variant_id", "").strip()
    if variant_id:
        bound = DeviceBinding.select(DeviceBinding.device).where(DeviceBinding.variant == variant_id)
        query = query.where(IOSDevice.id.in_(bound))
    term = request.args.get("q", "").strip()
    if term:
        query = query.where(IOSDevice.udid.contains(term) | IOSDevice.device_name.contains(term)
                            | IOSDevice.model.contains(term) | IOSDevice.serial.contains(term))
    return validate.within_time_range(query, IOSDevice.created_at).order_by(IOSDevice.created_at.desc(), IOSDevice.id)


def filtered_releases():
    """Releases (with their variants) matching `product_id`, `variant_id`, `version`, `build`, `channel`,
    `platform`, `git_commit` (its first characters will do), `sha256` and `from`/`to` (created), newest first."""
    query = where_ids(Release.select(Release, Variant).join(Variant), RELEASE_FILTERS)
    platform = request.args.get("platform", "").strip()
    if platform:
        query = query.where(Variant.platform == normalise_platform(platform))
    git_commit, sha256 = (hex_filter(name) for name in HEX_FILTERS)
    if git_commit:
        query = query.where(Release.git_commit.startswith(git_commit))
    if sha256:
        query = query.where(Release.sha256 == sha256)
    return validate.within_time_range(query, Release.created_at).order_by(Release.created_at.desc(), Release.id)


def hex_filter(name):
    """The query argument `name` in lower case, when given; 400 unless it has the hexadecimal form it filters."""
    value = request.args.get(name, "").strip().lower()
    pattern, length = HEX_FILTERS[name]
    if value and not pattern.fullmatch(value):
        raise ApiError(400, f"{name} must be {length} hexadecimal characters")
    return value


def where_ids(query, id_filters):
    """`query` limited to the exact values (IDs, versions…) given in the query string, `id_filters` naming each
    argument's column."""
    for name, column in id_filters.items():
        value = request.args.get(name, "").strip()
        if value:
            query = query.where(column == value)
    return query
