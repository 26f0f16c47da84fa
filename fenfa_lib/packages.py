"""Picks the parser for an uploaded file by its extension."""
from pathlib import PurePath

from fenfa_lib.aab import parse_aab
from fenfa_lib.apk import parse_apk
from fenfa_lib.ipa import parse_ipa

PARSERS = {".ipa": parse_ipa, ".apk": parse_apk, ".aab": parse_aab}


def parse_package(path, file_name):
    """AppInfo for an app package, or None for other files (desktop installers are stored unparsed).

    Raises PackageError when a file with an app extension is not a readable app.
    """
    parser = PARSERS.get(PurePath(file_name).suffix.lower())
    return parser(path) if parser else None
