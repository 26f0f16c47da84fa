"""The Android manifest model shared by the APK and App Bundle parsers: elements, manifest fields, the AppInfo
they make, and icon choice."""
from dataclasses import dataclass, field
from typing import NamedTuple

from apkutils2.axml.public import SYSTEM_RESOURCES

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
)
from fenfa_lib.packages.images import verified_image
from fenfa_lib.packages.ziputil import read_optional

ICON_LIMIT = 8 * MIB
MAX_ICON_CANDIDATES = 16  # files tried per icon choice: each costs a read and a decode
MAX_REFERENCE_DEPTH = 20  # as Android's AssetManager2, which follows at most 20 references
MAX_RESOLUTIONS = 20_000  # values one parse may visit while resolving references; real apps need a few hundred
ANDROID_ATTRIBUTES = SYSTEM_RESOURCES["attributes"]["inverse"]
ANYDPI, NODPI = 0xFFFE, 0xFFFF
RASTER_SUFFIXES = (".png", ".webp")
MAX_LISTED = 500  # permissions, features or ABIs kept: real apps declare a few dozen


class Ref(NamedTuple):
    """An @reference to a resource, as opposed to a literal value."""
    id: int


@dataclass
class Element:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)

    def iter(self, tag):
        """Descendants with this tag in document order; iterative, as hostile files nest deeply."""
        pending = list(reversed(self.children))
        while pending:
            element = pending.pop()
            if element.tag == tag:
                yield element
            pending += reversed(element.children)


@dataclass
class Manifest:
    package: str
    version_code: str | None
    version_name: str | Ref | None
    min_sdk: str | None
    target_sdk: str | None
    label: str | Ref | None
    icons: list  # Refs: the launcher activity's icon first, then the application's
    device_family: list
    permissions: list
    features: list  # {"name", "required"} of each <uses-feature> that names one


def read_manifest(root):
    """The fields Fenfa needs from a manifest tree (binary XML or protobuf)."""
    package = root.attrs.get("package") if root.tag == "manifest" else None
    if not isinstance(package, str) or not package.strip():
        raise PackageError("AndroidManifest.xml has no package name")
    application = next(root.iter("application"), Element("application", {}))
    uses_sdk = next(root.iter("uses-sdk"), Element("uses-sdk", {}))
    icons = [_launcher_icon(application), application.attrs.get("icon")]
    watch = any(feature.attrs.get("name") == "android.hardware.type.watch"
                and feature.attrs.get("required") is not False for feature in root.iter("uses-feature"))
    return Manifest(
        package=package.strip(),
        version_code=_scalar(root.attrs.get("versionCode")),
        version_name=root.attrs.get("versionName"),
        min_sdk=_scalar(uses_sdk.attrs.get("minSdkVersion")),
        target_sdk=_scalar(uses_sdk.attrs.get("targetSdkVersion")),
        label=application.attrs.get("label"),
        icons=[icon for icon in icons if isinstance(icon, Ref)],
        device_family=["watch"] if watch else [],
        permissions=_names(root, "uses-permission", "uses-permission-sdk-23"),
        features=_features(root),
    )


def _names(root, *tags):
    """The distinct `name` attributes of the elements with these tags, in document order, at most MAX_LISTED."""
    names = [element.attrs.get("name") for tag in tags for element in root.iter(tag)]
    return list(dict.fromkeys(clipped(name.strip(), MAX_IDENTIFIER_LENGTH) for name in names if _is_name(name)))[
        :MAX_LISTED]


def _features(root):
    """{"name", "required"} of each distinct <uses-feature> name (those giving only glEsVersion have none)."""
    features = {}
    for feature in root.iter("uses-feature"):
        if _is_name(feature.attrs.get("name")):
            name = clipped(feature.attrs["name"].strip(), MAX_IDENTIFIER_LENGTH)
            features.setdefault(name, feature.attrs.get("required") is not False)
    return [{"name": name, "required": required} for name, required in features.items()][:MAX_LISTED]


def _is_name(value):
    return isinstance(value, str) and bool(value.strip())


def native_abis(archive, library_pattern):
    """The ABIs native libraries are built for: group 1 of the members matching `library_pattern` (such as
    lib/<abi>/name.so)."""
    abis = set()
    for name in archive.namelist():
        match = library_pattern.match(name)
        if match:
            abis.add(match.group(1))
    return sorted(abis)[:MAX_LISTED]


def _launcher_icon(application):
    """The icon of the MAIN/LAUNCHER activity, which is what the home screen shows."""
    for tag in ("activity", "activity-alias"):
        for activity in application.iter(tag):
            for intent_filter in activity.iter("intent-filter"):
                actions = {action.attrs.get("name") for action in intent_filter.iter("action")}
                categories = {category.attrs.get("name") for category in intent_filter.iter("category")}
                launches = "android.intent.action.MAIN" in actions and "android.intent.category.LAUNCHER" in categories
                if launches and activity.attrs.get("icon") is not None:
                    return activity.attrs["icon"]
    return None


def _scalar(value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip() or None


def build_app_info(package_type, manifest, resolve_string, icon, archive_metadata):
    """AppInfo from a manifest; resolve_string turns a Ref into text (or None); archive_metadata holds what the
    zip itself says (native ABIs, signatures), for release.metadata."""
    version_name = manifest.version_name
    version_name = _scalar(resolve_string(version_name) if isinstance(version_name, Ref) else version_name)
    version_name = checked_version(version_name, "versionName")
    version_code = checked_version(manifest.version_code, "versionCode")
    if not (version_name or version_code):
        raise PackageError("AndroidManifest.xml has no versionName or versionCode")
    identifier = checked_identifier(manifest.package, "package name")
    label = resolve_string(manifest.label) if isinstance(manifest.label, Ref) else manifest.label
    return AppInfo(
        package_type=package_type,
        platform="android",
        identifier=identifier,
        version=version_name or version_code,
        build=version_code or version_name,
        display_name=clipped(_scalar(label) or identifier, MAX_DISPLAY_NAME_LENGTH),
        min_os=clipped(manifest.min_sdk, MAX_OS_VERSION_LENGTH),
        target_os=clipped(manifest.target_sdk, MAX_OS_VERSION_LENGTH),
        device_family=manifest.device_family,
        icon=icon,
        installable=package_type != "aab",
        metadata={"permissions": manifest.permissions, "features": manifest.features, **archive_metadata},
    )


class Unresolvable(Exception):
    """A resource past a resolution bound or in a reference cycle; callers treat it as missing."""


class References:
    """Resolves resource references for one parse. lookup(res_id) lists a resource's configurations as
    (value, None) for a plain value or (None, target id) for a reference. Each resource is looked up once, chains
    may be at most MAX_REFERENCE_DEPTH deep and all resolutions together visit at most MAX_RESOLUTIONS values, so
    hostile tables whose configurations fan out through chains of references cost time linear in their size."""

    def __init__(self, lookup):
        self.lookup, self.memo, self.active, self.budget = lookup, {}, set(), MAX_RESOLUTIONS

    def resolve(self, res_id):
        """The values a resource resolves to, in order and without duplicates; raises Unresolvable."""
        return self._resolve(res_id, 0)[1]

    def _resolve(self, res_id, depth):
        if res_id not in self.memo:
            if res_id in self.active or depth > MAX_REFERENCE_DEPTH:
                raise Unresolvable(f"resource {res_id:#x} is in a cycle or too deep")
            self.active.add(res_id)
            try:
                self.memo[res_id] = self._lookup(res_id, depth)
            finally:
                self.active.discard(res_id)
        height, values = self.memo[res_id]
        if depth + height > MAX_REFERENCE_DEPTH:
            raise Unresolvable(f"resource {res_id:#x} is too deep")
        return height, values

    def _lookup(self, res_id, depth):
        """(length of the longest reference chain below the resource, its values)."""
        height, found = 0, {}
        for value, target in self.lookup(res_id):
            self._spend(1)
            if target is None:
                found.setdefault(value)
                continue
            target_height, values = self._resolve(target, depth + 1)
            self._spend(len(values))
            height = max(height, target_height + 1)
            found.update(dict.fromkeys(values))
        return height, list(found)

    def _spend(self, count):
        self.budget -= count
        if self.budget < 0:
            raise Unresolvable("too many resource resolutions")


def density_rank(density):
    """Orders densities for icon choice: no qualifier counts as mdpi, nodpi and anydpi come last."""
    return {0: 160, NODPI: 1, ANYDPI: 0}.get(density, density)


def icon_rasters(archive, files, resolve_files, parse_xml):
    """The PNG/WebP files among an icon resource's resolved (qualifier, path) files, else its adaptive icon's
    foreground's; resolve_files resolves a Ref the same way, parse_xml is as for adaptive_foregrounds."""
    return raster_files(files) or [pair for foreground in adaptive_foregrounds(archive, files, parse_xml)
                                   for pair in raster_files(resolve_files(foreground))]


def adaptive_foregrounds(archive, files, parse_xml):
    """Refs of the foreground layer of the <adaptive-icon> XML files among resolved (qualifier, path) files;
    parse_xml turns a member's bytes into its root Element, or None when they do not parse."""
    foregrounds = []
    for name in list(dict.fromkeys(name for _, name in files))[:MAX_ICON_CANDIDATES]:
        data = read_optional(archive, name, ICON_LIMIT) if name.endswith(".xml") else None
        root = parse_xml(data) if data else None
        layer = next(root.iter("foreground"), None) if root is not None and root.tag == "adaptive-icon" else None
        if layer is not None and isinstance(layer.attrs.get("drawable"), Ref):
            foregrounds.append(layer.attrs["drawable"])
    return foregrounds


def raster_files(files):
    """The (qualifier, path) pairs of resolved resource files that are PNG or WebP images by name."""
    return [(qualifier, name) for qualifier, name in files if name.lower().endswith(RASTER_SUFFIXES)]


def first_image(archive, names):
    """The first member that is a PNG or WebP that verifies (see verified_image), among the first few names."""
    for name in list(dict.fromkeys(names))[:MAX_ICON_CANDIDATES]:
        data = read_optional(archive, name, ICON_LIMIT)
        if data and verified_image(data):
            return data
    return None
