"""What a product page shows: the visitor's platform, the variant cards in order, each card's
selected release and its links. The HTML page and GET /api/products/:slug share this model; the
HTML page adds the device registration a return token proves. Also the itms-services manifest
that iOS install links point at."""
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from flask import current_app, request

from fenfa_lib import current
from fenfa_lib.catalog import published_product
from fenfa_lib.models import NEWEST_FIRST, Product, ProvisioningProfile, Release, Variant, utcnow
from fenfa_lib.text import is_ascii_number, without_control_characters
from fenfa_lib.udid import DEVICE_BOUND_KINDS, token_device, token_registration
from fenfa_lib.verdict import Verdict, Visitor, install_verdict, visitor_from
from fenfa_lib.web import urls
from fenfa_lib.web.envelope import ok
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
IN_APP_BROWSERS = ("MicroMessenger", " QQ/", "DingTalk", "Lark/", "Feishu")


@dataclass
class Card:
    """One published variant: its releases newest first (of the `?channel=` asked for), the one offered, what
    the install verdict says of it, and, when the newest release is not the one offered, why not. For iOS
    also the offered build's profile kind and the registration (`{bound, udid, in_profile}`) a return
    token proves."""
    variant: Variant
    release: Release | None
    releases: list = field(default_factory=list)
    verdict: Verdict | None = None
    newest_verdict: Verdict | None = None  # set when the newest release cannot install and another is offered
    verdicts: dict = field(default_factory=dict)  # release id -> Verdict, for the JSON
    recommended: bool = False
    profile_kind: str | None = None
    registration: dict | None = None
    ipad_release: Release | None = None  # for a Mac visitor, which may be an iPad asking for the desktop site

    @property
    def registers_devices(self):
        """Whether device binding applies: the offered iOS build's profile only installs on listed devices."""
        return self.variant.platform == "ios" and self.profile_kind in DEVICE_BOUND_KINDS

    @property
    def others(self):
        """Releases to list below the offered one, newest first."""
        return [release for release in self.releases if release is not self.release][:MAX_OTHER_RELEASES]


@dataclass
class ProductPage:
    product: Product
    platform: str | None
    cards: list
    icon_release: Release | None
    visitor: Visitor | None = None
    channel: str | None = None
    valid_until: datetime | None = None  # when a profile on the page expires, turning its verdicts
    public_json: dict = field(default_factory=dict, repr=False)  # base URL -> what page_json keeps

    @property
    def own_cards(self):
        """The cards of the visitor's platform (all cards when the platform is unknown)."""
        return [card for card in self.cards if not self.platform or card.variant.platform == self.platform]

    @property
    def other_cards(self):
        return [card for card in self.cards if card not in self.own_cards]


def page_request():
    """(visitor, the `?r=` release, the `?channel=`): what of a request its product page depends on."""
    user_agent = request.user_agent.string
    channel = request.args.get("channel", "").strip() or None
    return visitor_from(user_agent, detect_platform(user_agent)), request.args.get("r"), channel


def visitor_page(slug):
    """The product page at `slug` as this visitor sees it, or None when no published product is there: their
    platform's cards first, each offering the newest release their device can install (or the release `?r=`
    names), the `?channel=` asked for, and for iOS the device a return token proves. Pages are built once per
    catalog revision, visitor, release and channel; a page with a return token is this visitor's alone."""
    visitor, selected_release_id, channel = page_request()
    token = request.args.get("udid_token")
    if token:
        product = published_product(slug)
        if product is None:
            return None

        def device_for(variant_id):
            device = token_device(current_app.secret_key, token, variant_id)
            return device.udid if device else None

        return build_page(product, visitor, selected_release_id, channel, device_for)
    key = (slug, visitor, selected_release_id, channel)
    revision = current.revision()
    pages = current.cache("pages")
    page = pages.get(key, revision)
    if page is None:
        product = published_product(slug)
        if product is None:
            return None
        page = build_page(product, visitor, selected_release_id, channel)
        pages.put(key, revision, page, page.valid_until)
    return page


def in_app_browser():
    """Whether the page is open in an app's own browser (WeChat, QQ, DingTalk, Feishu/Lark), which blocks
    installs."""
    user_agent = request.user_agent.string or ""
    return any(marker in user_agent for marker in IN_APP_BROWSERS)


def visitor_notices(page):
    """Text keys of what the visitor must know before any button works: an iPhone on plain http, an in-app
    browser that blocks installs."""
    notices = []
    if in_app_browser():
        notices.append("in_app_browser")
    if page.platform == "ios" and urls.https_warnings():
        notices.append("needs_https")
    return notices


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


def build_page(product, visitor, selected_release_id=None, channel=None, device_for=None):
    """Cards for the published variants. Each offers the release `selected_release_id` names when it is one
    of its own, else the newest one the visitor can install (saying why the newest cannot, when it cannot),
    else the newest; the first installable card of the visitor's platform is recommended."""
    variants = order_variants(list(product.variants.where(Variant.published)), visitor.platform)
    query = Release.select().where(Release.variant.in_([variant.id for variant in variants]))
    if channel:
        query = query.where(Release.channel == channel)
    releases = list(query.order_by(*NEWEST_FIRST))
    history = defaultdict(list)
    for release in releases:
        history[release.variant_id].append(release)
    profiles = release_profiles([release.id for release in releases if release.metadata.get("package_type") == "ipa"])
    cards = []
    for variant in variants:
        own = history[variant.id]
        udid = device_for(variant.id) if device_for and variant.platform == "ios" else None
        card_visitor = replace(visitor, udid=udid)
        verdicts = {release.id: install_verdict(release, variant.platform, profiles.get(release.id), card_visitor)
                    for release in own}
        card = offer(variant, own, verdicts, selected_release_id)
        if visitor.platform == "macos" and variant.platform == "ios":
            ipad = Visitor("ios", "ipad")
            card.ipad_release = next((release for release in own if install_verdict(
                release, "ios", profiles.get(release.id), ipad).installable), None)
        cards.append(card)
    for card in cards:
        profile = profiles.get(card.release.id) if card.release else None
        card.profile_kind = profile.kind if profile else None
    recommended = next((card for card in cards if card.variant.platform == visitor.platform
                        and card.verdict and card.verdict.installable), None)
    if recommended:
        recommended.recommended = True
    icon_release = next((release for release in releases if release.icon_key), None)
    now = utcnow()
    valid_until = min((profile.expires_at for profile in profiles.values()
                       if profile.expires_at and profile.expires_at > now), default=None)
    return ProductPage(product, visitor.platform, cards, icon_release, visitor, channel, valid_until)


def offer(variant, releases, verdicts, selected_release_id):
    """The Card of a variant: the release it offers and the verdicts that chose it."""
    selected = next((release for release in releases if release.id == selected_release_id), None)
    installable = next((release for release in releases if verdicts[release.id].installable), None)
    release = selected or installable or (releases[0] if releases else None)
    card = Card(variant, release, releases, verdicts[release.id] if release else None, verdicts=verdicts)
    if release is not None and not selected and release is not releases[0]:
        card.newest_verdict = verdicts[releases[0].id]
    return card


def release_profiles(release_ids):
    """{release id: its provisioning profile} in one query."""
    if not release_ids:
        return {}
    query = ProvisioningProfile.select().where(ProvisioningProfile.release.in_(release_ids))
    return {profile.release_id: profile for profile in query}


def add_registrations(page, secret, token):
    """Set each iOS card's `registration` to what the return `token`, signed with `secret`, proves for its variant."""
    for card in page.cards:
        if card.variant.platform == "ios":
            card.registration = token_registration(secret, token, card.variant.id)


def install_manifest(release, token=None):
    """The itms-services manifest iOS reads before it downloads the IPA; its URLs carry `token`, the install
    token of a protected product, since iOS fetches them without the browser's cookies."""
    assets = [{"kind": "software-package", "url": urls.download_url(release.id, token)}]
    if release.icon_key:
        icon = urls.icon_url(release.id, token)
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


MAX_JSON_BASES = 4  # base URLs (hosts, without a primary domain) a cached page keeps its JSON for


def page_json(page, download_counts, release_links):
    """The answer of the page's JSON API, with the download counts of now. For a public product (whose links carry
    no install token) the rest is built once per cached page and base URL, and the answer's bytes are kept while
    the counts stay what they were."""
    if page.product.access != "public":
        return ok(page_dict(page, download_counts, release_links))
    base, counts = urls.base_url(), tuple(sorted(download_counts.items()))
    built, counted, body = page.public_json.get(base, (None, None, None))
    if counted != counts:
        built = built or page_dict(page, {})
        body = ok(with_download_counts(built, download_counts))[0].get_data()
        if base in page.public_json or len(page.public_json) < MAX_JSON_BASES:
            page.public_json[base] = (built, counts, body)
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


def with_download_counts(page_data, download_counts):
    """page_dict's `page_data` (built without counts) with the releases' `download_counts` put in."""
    return {**page_data, "variants": [
        {**variant, "releases": [
            {**release, "download_count": download_counts.get(release["id"], release["download_count"])}
            for release in variant["releases"]]}
        for variant in page_data["variants"]]}


def page_dict(page, download_counts, release_links=urls.release_links):
    """The JSON form of a product page: public fields only, never profiles or device UDIDs. The releases'
    `download_counts` are read apart from the page, which is cached while they change with every download;
    `release_links` builds their links (with the install tokens of a protected product)."""
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
                        "download_count": download_counts.get(release.id, release.download_count),
                        "installable": card.verdicts[release.id].installable,
                        "reason": card.verdicts[release.id].reason,
                        "urls": release_links(release, card.variant, product.slug),
                    }
                    for release in card.releases
                ],
            }
            for card in page.cards
        ],
        "urls": {"page": urls.page_url(product.slug), "qrcode": urls.qrcode_url(product.slug)},
    }
