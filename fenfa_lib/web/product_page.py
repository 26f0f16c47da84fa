"""What a product page shows: the visitor's platform, the variant cards in order, each card's
selected release and its links. The HTML page and GET /api/products/:slug share this model; the
HTML page adds the device registration a return token proves. Also the itms-services manifest
that iOS install links point at."""
from collections import defaultdict
from dataclasses import dataclass, field

from flask import request

from fenfa_lib.models import NEWEST_FIRST, Product, ProvisioningProfile, Release, Variant
from fenfa_lib.text import is_ascii_number, without_control_characters
from fenfa_lib.udid import DEVICE_BOUND_KINDS, token_registration
from fenfa_lib.web import urls
from fenfa_lib.web.shapes import product_dict, release_dict, variant_dict

PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "macos": "macOS", "windows": "Windows", "linux": "Linux"}
# Order matters: iOS user agents say "like Mac OS X" and Android ones say "Linux".
USER_AGENT_MARKERS = (
    ("iPhone", "ios"),
    ("iPod", "ios"),
    ("iPad", "ios"),
    ("Android", "android"),
    ("Windows", "windows"),
    ("Macintosh", "macos"),
    ("Mac OS X", "macos"),
    ("Linux", "linux"),
)
ANDROID_VERSIONS = {
    1: "1.0", 2: "1.1", 3: "1.5", 4: "1.6", 5: "2.0", 6: "2.0.1", 7: "2.1", 8: "2.2", 9: "2.3", 10: "2.3.3",
    11: "3.0", 12: "3.1", 13: "3.2", 14: "4.0", 15: "4.0.3", 16: "4.1", 17: "4.2", 18: "4.3", 19: "4.4",
    20: "4.4W", 21: "5.0", 22: "5.1", 23: "6.0", 24: "7.0", 25: "7.1", 26: "8.0", 27: "8.1", 28: "9", 29: "10",
    30: "11", 31: "12", 32: "12L", 33: "13", 34: "14", 35: "15", 36: "16",
}
MAX_OTHER_RELEASES = 20


@dataclass
class Card:
    """One published variant: its releases newest first, the selected one, and for iOS the selected
    build's profile kind and the registration (`{bound, udid, in_profile}`) a return token proves."""
    variant: Variant
    release: Release | None
    releases: list = field(default_factory=list)
    recommended: bool = False
    profile_kind: str | None = None
    registration: dict | None = None

    @property
    def registers_devices(self):
        """Whether device binding applies: the selected iOS build's profile only installs on listed devices."""
        return self.variant.platform == "ios" and self.profile_kind in DEVICE_BOUND_KINDS

    @property
    def others(self):
        """Releases to list below the selected one, newest first."""
        return [release for release in self.releases if release is not self.release][:MAX_OTHER_RELEASES]


@dataclass
class ProductPage:
    product: Product
    platform: str | None
    cards: list
    icon_release: Release | None


def visitor_page(product):
    """The product page as this visitor sees it: their platform's cards first, and the release `?r=` names selected."""
    return build_page(product, detect_platform(request.user_agent.string), request.args.get("r"))


def detect_platform(user_agent):
    """'ios', 'android', 'windows', 'macos', 'linux' or None. iPadOS that claims to be a Mac is
    reported as macos here; the page's script corrects that from navigator.maxTouchPoints."""
    for marker, platform in USER_AGENT_MARKERS:
        if marker in (user_agent or ""):
            return platform
    return None


def order_variants(variants, platform):
    """The visitor's platform first, then the admin's sort order."""
    return sorted(variants, key=lambda variant: (variant.platform != platform, variant.sort_order, variant.created_at))


def build_page(product, platform, selected_release_id=None):
    """Cards for the published variants; `selected_release_id` replaces the newest release of
    its own variant when it belongs to this product."""
    variants = order_variants(list(product.variants.where(Variant.published)), platform)
    releases = list(
        Release.select()
        .where(Release.variant.in_([variant.id for variant in variants]))
        .order_by(*NEWEST_FIRST)
    )
    history = defaultdict(list)
    for release in releases:
        history[release.variant_id].append(release)
    cards = []
    for variant in variants:
        own = history[variant.id]
        selected = next((release for release in own if release.id == selected_release_id), own[0] if own else None)
        cards.append(Card(variant, selected, own))
    kinds = selected_profile_kinds(cards)
    for card in cards:
        card.profile_kind = kinds.get(card.release.id) if card.release else None
    if cards and cards[0].variant.platform == platform:
        cards[0].recommended = True
    icon_release = next((release for release in releases if release.icon_key), None)
    return ProductPage(product, platform, cards, icon_release)


def selected_profile_kinds(cards):
    """{release id: provisioning profile kind} for the cards' selected iOS releases."""
    release_ids = [card.release.id for card in cards if card.release and card.variant.platform == "ios"]
    if not release_ids:
        return {}
    query = ProvisioningProfile.select(ProvisioningProfile.release, ProvisioningProfile.kind)
    return {profile.release_id: profile.kind for profile in query.where(ProvisioningProfile.release.in_(release_ids))}


def add_registrations(page, secret, token):
    """Set each iOS card's `registration` to what the return `token`, signed with `secret`, proves for its variant."""
    for card in page.cards:
        if card.variant.platform == "ios":
            card.registration = token_registration(secret, token, card.variant.id)


def is_installable(release):
    return release.metadata.get("installable", True) is not False


def install_manifest(release):
    """The itms-services manifest iOS reads before it downloads the IPA."""
    assets = [{"kind": "software-package", "url": urls.download_url(release.id)}]
    if release.icon_key:
        icon = urls.icon_url(release.id)
        assets += [{"kind": "display-image", "url": icon}, {"kind": "full-size-image", "url": icon}]
    variant = release.variant
    return {"items": [{
        "assets": assets,
        "metadata": {
            "bundle-identifier": without_control_characters(release.identifier or variant.identifier),
            "bundle-version": without_control_characters(release.version),
            "kind": "software",
            "title": without_control_characters(release.display_name or variant.product.name),
        },
    }]}


def human_size(size_bytes):
    """Decimal units, as phones and app stores show them: 41.7 KB, 3.6 MB."""
    if size_bytes < 1000:
        return f"{size_bytes} B"
    size = size_bytes / 1000
    for unit in ("KB", "MB"):
        if size < 1000:
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def min_os_label(platform, min_os):
    """"iOS 9.3", "Android 4.0 (API 14)", or '' when the release names no minimum."""
    if not min_os:
        return ""
    name = PLATFORM_NAMES.get(platform, platform)
    if platform == "android" and is_ascii_number(min_os, max_digits=4):
        version = ANDROID_VERSIONS.get(int(min_os))
        return f"{name} {version} (API {min_os})" if version else f"{name} API {min_os}"
    return f"{name} {min_os}"


def page_dict(page):
    """The JSON form of a product page: public fields only, never profiles or device UDIDs."""
    product = page.product
    icon = page.icon_release
    return {
        "product": {**product_dict(product), "icon_url": urls.icon_url(icon.id) if icon else None},
        "visitor_platform": page.platform,
        "variants": [
            {
                **variant_dict(card.variant),
                "recommended": card.recommended,
                "selected_release_id": card.release.id if card.release else None,
                "releases": [
                    {
                        **release_dict(release),
                        "installable": is_installable(release),
                        "urls": urls.release_links(release, card.variant, product.slug),
                    }
                    for release in card.releases
                ],
            }
            for card in page.cards
        ],
        "urls": {"page": urls.page_url(product.slug), "qrcode": urls.qrcode_url(product.slug)},
    }
