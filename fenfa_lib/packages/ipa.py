"""iOS app archives (.ipa): the main app's Info.plist, its largest PNG icon and its provisioning profile."""
import plistlib
import re

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import (
    MAX_DISPLAY_NAME_LENGTH,
    MAX_OS_VERSION_LENGTH,
    AppInfo,
    PackageError,
    checked_identifier,
    checked_version,
    clipped,
    metadata_errors_as_package_error,
)
from fenfa_lib.packages.images import cgbi_to_png, png_size, verified_image
from fenfa_lib.packages.mobileprovision import parse_mobileprovision
from fenfa_lib.packages.ziputil import open_zip, read_member, read_optional
from fenfa_lib.text import is_ascii_number

INFO_PLIST = re.compile(r"^Payload/[^/]+\.app/Info\.plist$")
PLIST_LIMIT = 8 * MIB
ICON_LIMIT = 8 * MIB
PROFILE_LIMIT = 1 * MIB
ICON_HEADER_BYTES = 64
MAX_ICON_AREA = 1024 * 1024  # root icons are at most 180 px; decrushing a bigger one would cost seconds
DEVICE_FAMILIES = {1: "iphone", 2: "ipad", 3: "tv", 4: "watch", 7: "vision"}
PLATFORM_FAMILIES = {"AppleTVOS": "tv", "WatchOS": "watch", "XROS": "vision"}


def parse_ipa(path):
    """AppInfo for an .ipa file; raises PackageError when it is not a usable iOS app."""
    with open_zip(path, "IPA") as archive, metadata_errors_as_package_error("IPA"):
        plist_name = _info_plist_name(archive)
        app_dir = plist_name[: -len("Info.plist")]
        plist = _load_plist(read_member(archive, plist_name, PLIST_LIMIT))
        identifier = _text(plist.get("CFBundleIdentifier"))
        if not identifier:
            raise PackageError("Info.plist has no CFBundleIdentifier")
        identifier = checked_identifier(identifier, "bundle identifier")
        version = checked_version(_text(plist.get("CFBundleShortVersionString")), "CFBundleShortVersionString")
        build = checked_version(_text(plist.get("CFBundleVersion")), "CFBundleVersion")
        if not (version or build):
            raise PackageError("Info.plist has no CFBundleShortVersionString or CFBundleVersion")
        display_name = _text(plist.get("CFBundleDisplayName")) or _text(plist.get("CFBundleName")) or identifier
        return AppInfo(
            package_type="ipa",
            platform="ios",
            identifier=identifier,
            version=version or build,
            build=build or version,
            display_name=clipped(display_name, MAX_DISPLAY_NAME_LENGTH),
            min_os=clipped(_text(plist.get("MinimumOSVersion")), MAX_OS_VERSION_LENGTH),
            target_os=clipped(_text(plist.get("DTPlatformVersion")), MAX_OS_VERSION_LENGTH),
            device_family=_device_family(plist),
            icon=_icon(archive, app_dir, _icon_names(plist)),
            profile=_profile(archive, app_dir),
        )


def _info_plist_name(archive):
    """The one Payload/<name>.app/Info.plist; nested bundles and __MACOSX copies never match."""
    names = [name for name in archive.namelist() if INFO_PLIST.match(name)]
    if not names:
        raise PackageError("IPA has no Payload/*.app/Info.plist")
    if len(names) > 1:
        raise PackageError("IPA has more than one Payload/*.app")
    return names[0]


def _load_plist(data):
    try:
        plist = plistlib.loads(data)
    except Exception as exc:  # plistlib raises many exception types on malformed input
        raise PackageError("Info.plist is not a valid property list") from exc
    if not isinstance(plist, dict):
        raise PackageError("Info.plist is not a dictionary")
    return plist


def _text(value):
    """A stripped string from a plist value that should be one; numbers are accepted, anything else is None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value).strip() or None


def _device_family(plist):
    """Device kinds in a fixed order; Apple treats a missing UIDeviceFamily as iPhone."""
    families = plist.get("UIDeviceFamily")
    families = families if isinstance(families, list) else [families] if families is not None else [1]
    found = {DEVICE_FAMILIES.get(int(family)) for family in families
             if isinstance(family, (int, str)) and is_ascii_number(str(family), max_digits=3)}
    platforms = plist.get("CFBundleSupportedPlatforms")
    found.update(PLATFORM_FAMILIES.get(platform) for platform in _strings(platforms))
    if found & {"tv", "watch", "vision"}:
        found.discard("iphone")
    return [family for family in DEVICE_FAMILIES.values() if family in found]


def _icon_names(plist):
    """Icon base names declared by the plist, without any .png extension."""
    names = []
    for key in ("CFBundleIcons", "CFBundleIcons~ipad"):
        icons = plist.get(key)
        primary = icons.get("CFBundlePrimaryIcon") if isinstance(icons, dict) else None
        if isinstance(primary, dict):
            names += _strings(primary.get("CFBundleIconFiles"))
        else:
            names += _strings(primary)  # tvOS may name the primary icon directly
    names += _strings(plist.get("CFBundleIconFiles")) + _strings(plist.get("CFBundleIconFile"))
    bases = [re.sub(r"\.png$", "", name, flags=re.IGNORECASE) for name in names]
    return list(dict.fromkeys(base for base in bases if base))


def _strings(value):
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _icon(archive, app_dir, names):
    """The largest declared PNG in the app's root as a standard PNG; None when there is none (e.g. only Assets.car)."""
    prefixes = tuple(name.lower() for name in names)
    candidates = []
    for name in archive.namelist():
        file_name = name[len(app_dir):].lower() if name.startswith(app_dir) else "/"
        if "/" not in file_name and file_name.endswith(".png") and file_name.startswith(prefixes):
            area = _png_area(archive, name)
            if 0 < area <= MAX_ICON_AREA:
                candidates.append((area, name))
    for _, name in sorted(candidates, reverse=True):
        data = read_optional(archive, name, ICON_LIMIT)
        try:
            png = cgbi_to_png(data, MAX_ICON_AREA) if data else None
        except ValueError:
            continue
        if png and verified_image(png, MAX_ICON_AREA) == "png":
            return png
    return None


def _png_area(archive, name):
    """Width times height from the first bytes of a PNG member, or 0 when it is not a readable PNG."""
    try:
        with archive.open(name) as member:
            width, height = png_size(member.read(ICON_HEADER_BYTES))
    except Exception:  # a broken icon must never fail the upload
        return 0
    return width * height


def _profile(archive, app_dir):
    data = read_optional(archive, app_dir + "embedded.mobileprovision", PROFILE_LIMIT)
    if data is None:
        return None
    try:
        return parse_mobileprovision(data)
    except PackageError:
        return None
