"""The package parsers: what an uploaded file says about itself, read without Flask, storage or the database.

`parse_package(path, name)` picks the parser by extension and returns an `AppInfo`.
"""
from pathlib import PurePath

from fenfa_lib.packages.aab import parse_aab
from fenfa_lib.packages.apk import parse_apk
from fenfa_lib.packages.appinfo import AppInfo
from fenfa_lib.packages.ipa import parse_ipa

PARSERS = {".ipa": parse_ipa, ".apk": parse_apk, ".aab": parse_aab}


def parse_package(path, file_name):
    """AppInfo for an app package; an empty AppInfo for other files (desktop installers are stored unparsed).

    Raises PackageError when a file with an app extension is not a readable app.
    """
    parser = PARSERS.get(PurePath(file_name).suffix.lower())
    return parser(path) if parser else AppInfo()
