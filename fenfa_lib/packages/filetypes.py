"""Which build files each platform takes, how to recognise them, and how to serve them."""
import re
import unicodedata
import zipfile

EXTENSIONS = {
    "ios": ("ipa",),
    "android": ("apk", "aab"),
    "macos": ("dmg", "pkg", "zip"),
    "windows": ("exe", "msi", "msix", "zip"),
    "linux": ("appimage", "deb", "rpm", "tar.gz", "zip"),
}
CONTENT_TYPES = {
    "ipa": "application/octet-stream",
    "apk": "application/vnd.android.package-archive",
    "aab": "application/octet-stream",
    "dmg": "application/x-apple-diskimage",
    "pkg": "application/octet-stream",
    "zip": "application/zip",
    "exe": "application/vnd.microsoft.portable-executable",
    "msi": "application/x-msi",
    "msix": "application/msix",
    "appimage": "application/vnd.appimage",
    "deb": "application/vnd.debian.binary-package",
    "rpm": "application/x-rpm",
    "tar.gz": "application/gzip",
}
ZIP_BASED = {"ipa", "apk", "aab", "zip", "msix"}
LEADING_MAGIC = {
    "exe": (b"MZ",),
    "msi": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "pkg": (b"xar!",),
    "appimage": (b"\x7fELF",),
    "deb": (b"!<arch>\n",),
    "rpm": (b"\xed\xab\xee\xdb",),
    "tar.gz": (b"\x1f\x8b",),
}
MAX_FILE_NAME_BYTES = 200


def extension_of(file_name):
    """'tar.gz', 'ipa', … in lower case, or '' when the name has none."""
    lower = file_name.lower()
    if lower.endswith(".tar.gz"):
        return "tar.gz"
    return lower.rsplit(".", 1)[1] if "." in lower else ""


def content_type(file_name):
    return CONTENT_TYPES.get(extension_of(file_name), "application/octet-stream")


def safe_file_name(file_name):
    """The client's file name without any folder part, control characters or leading dots, in at most
    MAX_FILE_NAME_BYTES of UTF-8 (file systems count a name's length in bytes)."""
    name = unicodedata.normalize("NFC", file_name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    name = re.sub(r"\s+", " ", name)
    if len(name.encode()) <= MAX_FILE_NAME_BYTES:
        return name
    stem, suffix = split_extension(name)
    if len(suffix.encode()) > MAX_FILE_NAME_BYTES // 2:
        stem, suffix = name, ""
    budget = MAX_FILE_NAME_BYTES - len(suffix.encode())
    # Cutting the bytes may split the last character; decoding with "ignore" drops its remains.
    return stem.encode()[:budget].decode("utf-8", "ignore").rstrip() + suffix


def split_extension(file_name):
    """(stem, ".ext") with the extension as the client wrote it, or (file_name, "") when there is none."""
    if file_name.lower().endswith(".tar.gz"):
        return file_name[:-7], file_name[-7:]
    if "." not in file_name:
        return file_name, ""
    stem, extension = file_name.rsplit(".", 1)
    return stem, "." + extension


def content_problem(path, extension):
    """Why the file at `path` is not a real `extension` file, or None when it looks right."""
    if extension in ZIP_BASED:
        return None if zipfile.is_zipfile(path) else f".{extension} file is not a zip archive"
    with open(path, "rb") as handle:
        head = handle.read(16)
        if extension == "dmg":
            handle.seek(0, 2)
            if handle.tell() < 512:
                return ".dmg file is too small to be a disk image"
            handle.seek(-512, 2)
            return None if handle.read(4) == b"koly" else ".dmg file has no disk image trailer"
    if extension in LEADING_MAGIC and not head.startswith(LEADING_MAGIC[extension]):
        return f"file does not look like a .{extension} file"
    return None
