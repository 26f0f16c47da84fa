"""iOS app archives (.ipa): the main app's Info.plist, its largest PNG icon and its provisioning profile."""
import plistlib
import re

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import (
    MAX_DISPLAY_NAME_LENGTH,
    MAX_IDENTIFIER_LENGTH,
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
USAGE_DESCRIPTION = re.compile(r"^NS[A-Za-z]+UsageDescription$")
MAX_LISTED = 200  # capabilities, URL schemes, usage keys or extensions kept: real apps have a few
MAX_EXTENSIONS = 32  # extension Info.plists read, each up to EXTENSION_PLIST_LIMIT
EXTENSION_PLIST_LIMIT = 1 * MIB


def parse_ipa(path):
    """AppInfo for an .ipa file; raises PackageError when it is not a usable iOS app."""
    with open_zip(path, "IPA") as archive, metadata_errors_as_package_error("IPA"):
        plist_name = _info_plist_name(archive)
        app_dir = plist_name[: -len("Info.plist")]
        plist = load_plist(read_member(archive, plist_name, PLIST_LIMIT))
        identifier = _text(plist.get("CFBundleIdentifier"))
        if not identifier:
            raise PackageError("Info.plist has no CFBundleIdentifier")
        identifier = checked_identifier(identifier, "bundle identifier")
        version = checked_version(_text(plist.get("CFBundleShortVersionString")), "CFBundleShortVersionString")
        build = checked_version(_text(plist.get("CFBundleVersion")), "CFBundleVersion")
        if not (version or build):
            raise PackageError("Info.plist has no CFBundleShortVersionString or CFBundleVersion")
        display_name = _text(plist.get("CFBundleDisplayName")) or _text(plist.get("CFBundleName")) or identifier
        profile = _profile(archive, app_dir)
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
            profile=profile,
            metadata={
                "entitlements": profile.entitlements if profile else {},
                "required_capabilities": _capabilities(plist.get("UIRequiredDeviceCapabilities")),
                "usage_descriptions": sorted(key for key in plist if USAGE_DESCRIPTION.match(key))[:MAX_LISTED],
                "url_schemes": _url_schemes(plist.get("CFBundleURLTypes")),
                "ui_device_family": _device_family_numbers(plist.get("UIDeviceFamily")),
                "app_extensions": _app_extensions(archive, app_dir),
            },
        )


def _info_plist_name(archive):
    """The one Payload/<name>.app/Info.plist; nested bundles and __MACOSX copies never match."""
    names = [name for name in archive.namelist() if INFO_PLIST.match(name)]
    if not names:
        raise PackageError("IPA has no Payload/*.app/Info.plist")
    if len(names) > 1:
        raise PackageError("IPA has more than one Payload/*.app")
    return names[0]


def load_plist(data):
    """An Info.plist's dictionary; PackageError for anything else."""
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


def _capabilities(value):
    """UIRequiredDeviceCapabilities as a list of names: a list of them, or a dict of those set to true."""
    if isinstance(value, dict):
        value = [name for name, required in value.items() if required is True]
    return [clipped(name, MAX_IDENTIFIER_LENGTH) for name in _strings(value)][:MAX_LISTED]


def _url_schemes(url_types):
    schemes = [scheme for url_type in url_types if isinstance(url_type, dict)
               for scheme in _strings(url_type.get("CFBundleURLSchemes"))] if isinstance(url_types, list) else []
    return list(dict.fromkeys(clipped(scheme, MAX_IDENTIFIER_LENGTH) for scheme in schemes))[:MAX_LISTED]


def _device_family_numbers(value):
    values = value if isinstance(value, list) else [value]
    return [int(number) for number in values if isinstance(number, (int, str)) and not isinstance(number, bool)
            and is_ascii_number(str(number), max_digits=3)][:MAX_LISTED]


def _app_extensions(archive, app_dir):
    """The bundle identifiers of the app's extensions (PlugIns/*.appex), from the first MAX_EXTENSIONS."""
    pattern = re.compile(re.escape(app_dir) + r"PlugIns/[^/]+\.appex/Info\.plist$")
    identifiers = []
    for name in [name for name in archive.namelist() if pattern.match(name)][:MAX_EXTENSIONS]:
        data = read_optional(archive, name, EXTENSION_PLIST_LIMIT)
        try:
            plist = plistlib.loads(data) if data else None
        except Exception:  # plistlib raises many exception types; a broken extension plist is left out
            continue
        identifier = _text(plist.get("CFBundleIdentifier")) if isinstance(plist, dict) else None
        if identifier:
            identifiers.append(clipped(identifier, MAX_IDENTIFIER_LENGTH))
    return identifiers


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
