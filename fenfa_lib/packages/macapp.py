"""macOS apps in a .zip: the Info.plist of the one *.app bundle the archive holds, and its .icns icon as PNG.

Any other zip (a Windows or Linux build, an archive of several apps) says nothing and is stored as it is.
"""
import re

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import AppInfo, PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.desktop import desktop_app_info, metadata_text
from fenfa_lib.packages.icns import icns_to_png
from fenfa_lib.packages.ipa import load_plist
from fenfa_lib.packages.ziputil import open_zip, read_member, read_optional

# At the root or in one folder (not __MACOSX, not another bundle: nested apps are parts of their app).
INFO_PLIST = re.compile(r"^(?:(?!__MACOSX/)[^/]+(?<!\.app)/)?[^/]+\.app/Contents/Info\.plist$")
PLIST_LIMIT = 8 * MIB
ICNS_LIMIT = 8 * MIB


def parse_mac_zip(path):
    """AppInfo from the app bundle's Info.plist: identifier, versions, LSMinimumSystemVersion and icon."""
    with open_zip(path, "zip") as archive, metadata_errors_as_package_error("macOS app"):
        names = [name for name in archive.namelist() if INFO_PLIST.match(name)]
        if len(names) != 1:
            return AppInfo()
        contents = names[0][: -len("Info.plist")]
        plist = load_plist(read_member(archive, names[0], PLIST_LIMIT))
        identifier = _text(plist.get("CFBundleIdentifier"))
        if not identifier:
            raise PackageError("Info.plist has no CFBundleIdentifier")
        icon_file = _text(plist.get("CFBundleIconFile"))
        return desktop_app_info(
            "zip", "macos",
            identifier=identifier,
            version=_text(plist.get("CFBundleShortVersionString")) or "",
            build=_text(plist.get("CFBundleVersion")) or "",
            name=_text(plist.get("CFBundleDisplayName")) or _text(plist.get("CFBundleName")),
            min_os=_text(plist.get("LSMinimumSystemVersion")),
            icon=_icon(archive, contents, icon_file) if icon_file else None,
            metadata={"app_bundle": metadata_text(contents.split("/Contents/")[0]),
                      "category": metadata_text(plist.get("LSApplicationCategoryType"))},
        )


def _text(value):
    return value.strip() or None if isinstance(value, str) else None


def _icon(archive, contents, icon_file):
    """The bundle's CFBundleIconFile (".icns" may be left out) from Contents/Resources, as PNG."""
    name = icon_file if icon_file.lower().endswith(".icns") else icon_file + ".icns"
    data = read_optional(archive, f"{contents}Resources/{name}", ICNS_LIMIT)
    return icns_to_png(data) if data else None
