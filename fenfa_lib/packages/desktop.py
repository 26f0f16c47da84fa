"""What the desktop parsers share: the AppInfo they make, architecture names, and XML reading.

A desktop file is stored whatever it holds, so its parser returns what it found and an empty AppInfo when its
container does not parse. But a container that parses and holds a metadata document that is damaged, or an
identifier or version that cannot be stored as read, is refused with a PackageError, as an app package is.
"""
from xml.etree import ElementTree

from fenfa_lib.packages.appinfo import (
    MAX_DISPLAY_NAME_LENGTH,
    MAX_OS_VERSION_LENGTH,
    AppInfo,
    PackageError,
    checked_identifier,
    checked_version,
    clipped,
)

MAX_METADATA_TEXT = 255
ARCH_FAMILIES = {
    "x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64",
    "x86": "x86", "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86", "intel": "x86",
    "arm64": "arm64", "aarch64": "arm64",
    "arm": "arm", "armhf": "arm", "armel": "arm", "armv7hl": "arm", "armv7l": "arm",
    "all": "noarch", "noarch": "noarch", "neutral": "noarch",
}


def desktop_app_info(package_type, platform, *, identifier="", version="", build="", name="", min_os=None,
                     icon=None, metadata=None):
    """AppInfo for a desktop file; raises PackageError for an identifier or version the file states but that
    cannot be stored as read."""
    identifier = checked_identifier(identifier, f"{package_type} identifier") if identifier else ""
    version = checked_version(version, f"{package_type} version") or ""
    build = checked_version(build, f"{package_type} build") or ""
    return AppInfo(
        package_type=package_type,
        platform=platform,
        identifier=identifier,
        version=version or build,
        build=build or version,
        display_name=clipped(name, MAX_DISPLAY_NAME_LENGTH) or identifier,
        min_os=clipped(min_os, MAX_OS_VERSION_LENGTH),
        icon=icon,
        metadata={key: value for key, value in (metadata or {}).items() if value not in (None, "", [])},
    )


def arch_metadata(arch):
    """{"arch": the file's own spelling, "arch_family": x86_64 | x86 | arm64 | arm | noarch}, as far as known."""
    arch = clipped(arch, MAX_METADATA_TEXT)
    return {"arch": arch, "arch_family": ARCH_FAMILIES.get((arch or "").lower())}


def metadata_text(value):
    """Informational text for release.metadata: a string without control characters, cut; None otherwise."""
    return clipped(value.strip(), MAX_METADATA_TEXT) or None if isinstance(value, str) else None


def parse_xml(data, what):
    """The root element of an XML document, or PackageError("<what> is not valid XML"). Expat (2.4.1 and later)
    refuses entity amplification, and ElementTree fetches no external entities."""
    try:
        return ElementTree.fromstring(data)
    except (ElementTree.ParseError, ValueError) as exc:
        raise PackageError(f"{what} is not valid XML") from exc


def local_name(element):
    """An element's tag without its namespace."""
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
