"""The highest release, by the one version ordering (fenfa_lib/versions.py): GET /api/update-check tells an app
whether a build above the one it runs is there to install, and /products/:slug/latest/:platform is a link that
always points at the highest build. Neither ever offers an .aab, which no device installs from a link. Both
read only: nothing here counts against an anonymous write budget."""
import plistlib

from flask import Blueprint, Response, redirect, request

from fenfa_lib.catalog import normalise_platform, published_product, published_variant
from fenfa_lib.errors import ApiError
from fenfa_lib.ids import MAX_SLUG_LENGTH
from fenfa_lib.models import Product, ProvisioningProfile, Release, Variant
from fenfa_lib.packages.filetypes import EXTENSIONS, extension_of
from fenfa_lib.verdict import install_verdict, visitor_from
from fenfa_lib.versions import highest_first, is_newer
from fenfa_lib.web import urls, validate
from fenfa_lib.web.access import install_token, require_access
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.product_page import install_manifest
from fenfa_lib.web.shapes import release_dict
from fenfa_lib.web.upload import FORM_LIMITS

update_check_bp = Blueprint("update_check", __name__)  # asked by apps: errors in the JSON envelope
links_bp = Blueprint("latest_links", __name__)  # opened by testers, like the product page: errors as pages
MAX_ID_LENGTH = 64


@update_check_bp.get("/api/update-check")
def update_check():
    """`{update_available, latest}`: the highest release a device can install from its link (the install
    verdict for an unknown device of the platform, or the one the User-Agent describes: no bundle, no expired
    or App Store profile, no build for another device), and whether it is above the caller's version or build."""
    version = validate.text(request.args, "version", max_length=FORM_LIMITS["version"])
    build = validate.text(request.args, "build", max_length=FORM_LIMITS["version"])
    if not version and not build:
        raise ApiError(400, "version or build is required")
    variants = asked_variants()
    product = variants[0].product
    require_access(product)
    latest = installable_release(ranked_ids(variants, channel_arg()), variants[0].platform)
    response, status = ok({
        "update_available": latest is not None and is_newer(latest, version, build),
        "latest": latest_dict(latest, install_token(product, latest.id)) if latest else None,
    })
    response.headers["Cache-Control"] = "no-cache"
    return response, status


def asked_variants():
    """The published variants the update check is about: `variant` (of `platform`, when given), or the
    `platform` variants of `product`; 400 for a bad combination, 404 when none is there."""
    variant_id = validate.text(request.args, "variant", max_length=MAX_ID_LENGTH)
    slug = validate.text(request.args, "product", max_length=MAX_SLUG_LENGTH)
    platform = validate.text(request.args, "platform", max_length=MAX_ID_LENGTH)
    platform = normalise_platform(platform) if platform else None
    if variant_id and slug:
        raise ApiError(400, "give variant or product, not both")
    if variant_id:
        variant = published_variant(variant_id, platform)
        if variant is None:
            raise ApiError(404, f"variant {variant_id} not found")
        return [variant]
    if not slug:
        raise ApiError(400, "variant, or product and platform, is required")
    if not platform:
        raise ApiError(400, "platform is required with product")
    return product_variants(slug, platform)


def product_variants(slug, platform, variant_id=None):
    """The published `platform` variants (only `variant_id`, when given) of the published product at `slug`,
    the product set on each; 404 when there is none."""
    product = published_product(slug)
    if product is None:
        raise ApiError(404, f"product {slug} not found")
    query = product.variants.where(Variant.published & (Variant.platform == platform))
    if variant_id:
        query = query.where(Variant.id == variant_id)
    variants = list(query)
    for variant in variants:
        variant.product = product
    if not variants:
        raise ApiError(404, f"product {slug} has no {platform} variant" + (f" {variant_id}" if variant_id else ""))
    return variants


def channel_arg():
    return validate.text(request.args, "channel", max_length=FORM_LIMITS["channel"])


def ranked_ids(variants, channel=None):
    """IDs of the releases of `variants` (of `channel`, when given) that are not .aab bundles, highest first.
    Only the columns the order reads are loaded: a variant may hold thousands of releases."""
    query = Release.select(Release.id, Release.version, Release.build, Release.created_at, Release.file_name).where(
        Release.variant.in_([variant.id for variant in variants]))
    if channel:
        query = query.where(Release.channel == channel)
    return [release.id for release in highest_first(query.namedtuples())
            if extension_of(release.file_name) != "aab"]


def full_release(release_id):
    """The release with its variant and product joined."""
    return Release.select(Release, Variant, Product).join(Variant).join(Product).where(Release.id == release_id).get()


def installable_release(release_ids, platform):
    """The first of `release_ids` the install verdict lets a device of `platform` install, or None."""
    visitor = visitor_from(request.user_agent.string, platform)
    for release_id in release_ids:
        release = full_release(release_id)
        profile = ProvisioningProfile.get_or_none(ProvisioningProfile.release == release_id)
        if install_verdict(release, platform, profile, visitor).installable:
            return release
    return None


def latest_dict(release, token=None):
    """The public release object with the links an app opens to install it (with `token`, the install token of
    a protected product)."""
    variant = release.variant
    data = {**release_dict(release), "download_url": urls.download_url(release.id, token),
            "page_url": urls.page_url(variant.product.slug, release.id)}
    if variant.platform == "ios":
        data["ios_install_url"] = urls.ios_install_url(release.id, token)
    return data


@links_bp.get("/products/<slug>/latest/<platform>")
def latest_download(slug, platform):
    """302 to the download of the highest release. Device verdicts (a profile expired, a minimum OS) are the
    product page's business: the link takes whoever follows it to the build."""
    release = linked_release(slug, platform)
    response = redirect(urls.download_url(release.id, install_token(release.variant.product, release.id)))
    response.headers["Cache-Control"] = "no-cache"
    return response


@links_bp.get("/products/<slug>/latest/ios/manifest.plist")
def latest_manifest(slug):
    """The itms-services manifest of the highest iOS release, so one install link lasts across builds."""
    release = linked_release(slug, "ios")
    body = plistlib.dumps(install_manifest(release, install_token(release.variant.product, release.id)))
    return Response(body, mimetype="application/xml", headers={"Cache-Control": "no-cache"})


def linked_release(slug, platform):
    """The highest release of the product's published `platform` variants (the `variant` and `channel` query
    arguments narrow it); 404 when there is none, 401 without access to a protected product (an install token
    of that release gets in too)."""
    if platform not in EXTENSIONS:
        raise ApiError(404, f"platform must be one of: {', '.join(EXTENSIONS)}")
    variant_id = validate.text(request.args, "variant", max_length=MAX_ID_LENGTH)
    channel = channel_arg()
    release_ids = ranked_ids(product_variants(slug, platform, variant_id), channel)
    if not release_ids:
        raise ApiError(404, f"product {slug} has no {platform} build" + (f" in channel {channel}" if channel else ""))
    release = full_release(release_ids[0])
    require_access(release.variant.product, release.id)
    return release
