"""The one install verdict: can this release install on the device in the visitor's hand, and if not, why.
It is read from what the package says (device family, minimum OS, the profile's type, expiry and devices,
the file kind) and what the visitor is (platform and device from the User-Agent, the device a UDID token
proves). The product page, its JSON and update checks all ask here."""
import re
from dataclasses import dataclass

from fenfa_lib.models import utcnow

# Reasons, keys of the page texts: a release a visitor cannot install says which one applies.
OTHER_PLATFORM = "other_platform"
BUNDLE = "bundle"  # an Android App Bundle, which only stores build from
WATCH = "watch"  # a Wear OS build, installed from the phone's companion app onto a watch
IPAD_ONLY = "ipad_only"
TV_ONLY = "tv_only"
WATCH_ONLY = "watch_only"
VISION_ONLY = "vision_only"
APP_STORE = "app_store"
PROFILE_EXPIRED = "profile_expired"
DEVICE_NOT_IN_PROFILE = "device_not_in_profile"
OS_TOO_OLD = "os_too_old"
IOS_VERSION = re.compile(r"(?:iPhone|CPU) OS (\d+)[_.](\d+)")


@dataclass(frozen=True)
class Visitor:
    """What the request says about the device: platform ('ios', 'android', …, or None), Apple device
    ('iphone' or 'ipad', when known), the OS version as a tuple (when the User-Agent says), and the UDID a
    return token proves (None without one)."""

    platform: str | None
    device: str | None = None
    os_version: tuple | None = None
    udid: str | None = None


@dataclass(frozen=True)
class Verdict:
    installable: bool
    reason: str | None = None
    detail: str | None = None  # what the reason names: a date, a minimum OS version


INSTALLABLE = Verdict(True)


def visitor_from(user_agent, platform, udid=None):
    """The Visitor a User-Agent describes (`platform` as the page detected it)."""
    user_agent = user_agent or ""
    device = "ipad" if "iPad" in user_agent else "iphone" if ("iPhone" in user_agent or "iPod" in user_agent) else None
    version = IOS_VERSION.search(user_agent) if platform == "ios" else None
    return Visitor(platform, device, (int(version.group(1)), int(version.group(2))) if version else None, udid)


def os_tuple(text):
    """(major, minor) of a version such as "15.0" or "9", or None."""
    parts = re.findall(r"\d+", text or "")[:2]
    return tuple(int(part) for part in parts) + (0,) * (2 - len(parts)) if parts else None


def install_verdict(release, platform, profile, visitor):
    """Whether `release` (of a variant of `platform`, with `profile` or None) installs for `visitor`."""
    metadata = release.metadata or {}
    if visitor.platform is not None and visitor.platform != platform:  # an unknown device may be any
        return Verdict(False, OTHER_PLATFORM)
    if metadata.get("installable") is False:
        return Verdict(False, BUNDLE)
    families = set(metadata.get("device_family") or [])
    if platform == "android":
        return Verdict(False, WATCH) if "watch" in families else INSTALLABLE
    if platform != "ios":
        return INSTALLABLE
    return ios_verdict(release, families, profile, visitor)


def ios_verdict(release, families, profile, visitor):
    if families and not families & {"iphone", "ipad"}:
        return Verdict(False, TV_ONLY if "tv" in families else VISION_ONLY if "vision" in families else WATCH_ONLY)
    if visitor.device == "iphone" and families and "iphone" not in families:
        return Verdict(False, IPAD_ONLY)
    minimum = os_tuple(release.min_os)
    if visitor.os_version and minimum and visitor.os_version < minimum:
        return Verdict(False, OS_TOO_OLD, release.min_os)
    if profile is None:
        return INSTALLABLE
    if profile.kind == "app-store":
        return Verdict(False, APP_STORE)
    if profile.expires_at and profile.expires_at <= utcnow():
        return Verdict(False, PROFILE_EXPIRED, profile.expires_at.strftime("%Y-%m-%d"))
    listed = {udid.lower() for udid in profile.devices}
    if profile.kind in ("ad-hoc", "development") and visitor.udid and visitor.udid.lower() not in listed:
        return Verdict(False, DEVICE_NOT_IN_PROFILE)
    return INSTALLABLE
