"""The package parsers: what an uploaded file says about itself, read without Flask, storage or the database.

`parse_package(path, name)` picks the parser by extension and returns an `AppInfo`.
"""
from importlib import import_module

from fenfa_lib.packages.appinfo import AppInfo
from fenfa_lib.packages.filetypes import extension_of

# extension -> "module:function". Imported on first use: the parsers and their libraries (apkutils2, pefile,
# olefile, Pillow…) cost about 8 MiB and 40 ms at start-up.
PARSERS = {
    "ipa": "ipa:parse_ipa", "apk": "apk:parse_apk", "aab": "aab:parse_aab",
    "deb": "deb:parse_deb", "rpm": "rpm:parse_rpm", "appimage": "appimage:parse_appimage",
    "exe": "exe:parse_exe", "msi": "msi:parse_msi", "msix": "msix:parse_msix",
    "pkg": "pkg:parse_pkg", "zip": "macapp:parse_mac_zip",
}


def parse_package(path, file_name):
    """AppInfo for a build file by its extension; an empty AppInfo for a file that says nothing readable
    (a .dmg, a .tar.gz, a zip of no macOS app).

    Raises PackageError when an app package is not a readable app, or a desktop file's metadata is damaged
    (see fenfa_lib.packages.desktop).
    """
    parser = PARSERS.get(extension_of(file_name))
    if not parser:
        return AppInfo()
    module, function = parser.split(":")
    return getattr(import_module(f"fenfa_lib.packages.{module}"), function)(path)
