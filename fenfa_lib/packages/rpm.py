"""RPM packages (.rpm): Name, Version-Release, Arch and Summary from the main header.

A reader of our own rather than rpmfile: rpmfile scans for the header magic a byte at a time, trusts the
index count and copies the rest of the data store once per entry, so a crafted header costs minutes. This one
reads the index and then only the strings it needs, each at most MAX_STRING bytes.
"""
import struct

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import AppInfo, PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.desktop import arch_metadata, desktop_app_info, metadata_text

LEAD_SIZE = 96
HEADER_MAGIC = b"\x8e\xad\xe8\x01"
MAX_INDEX_ENTRIES = 0xFFFF  # rpm's own bound on a header's tags
MAX_STORE_SIZE = 256 * MIB  # rpm's own bound on a header's data
MAX_STRING = 4096
TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1004: "summary", 1022: "arch"}
STRING, INT32, I18N_STRING = 6, 4, 9


def parse_rpm(path):
    """AppInfo from an .rpm's main header."""
    with open(path, "rb") as handle, metadata_errors_as_package_error("RPM"):
        handle.seek(LEAD_SIZE)
        signature = _index(handle)
        if signature is None:
            return AppInfo()
        entries, store_size = signature
        handle.seek((store_size + 7) // 8 * 8, 1)  # the signature header is padded to 8 bytes
        header = _index(handle)
        if header is None:
            raise PackageError("RPM has no main header after its signature")
        tags = _tags(handle, *header)
        if not tags.get("name"):
            raise PackageError("RPM header has no Name")
        version = "-".join(part for part in (tags.get("version"), tags.get("release")) if part)
        return desktop_app_info(
            "rpm", "linux",
            identifier=tags["name"],
            version=version,
            metadata={**arch_metadata(tags.get("arch")), "summary": metadata_text(tags.get("summary")),
                      "epoch": tags.get("epoch")},
        )


def _index(handle):
    """(index entries, data store size) of the header at the current position, leaving the position at its
    store; None when there is no header there."""
    intro = handle.read(16)
    if len(intro) < 16 or intro[:4] != HEADER_MAGIC:
        return None
    count, store_size = struct.unpack(">II", intro[8:])
    if count > MAX_INDEX_ENTRIES or store_size > MAX_STORE_SIZE:
        raise PackageError("RPM header is larger than rpm allows")
    index = handle.read(16 * count)
    if len(index) < 16 * count:
        raise PackageError("RPM header is cut short")
    return list(struct.iter_unpack(">iiii", index)), store_size


def _tags(handle, entries, store_size):
    """The wanted tags as text; the first string of an I18N string is the untranslated one."""
    store_start, found = handle.tell(), {}
    for tag, kind, offset, count in entries:
        name = TAGS.get(tag)
        if name is None or name in found or not 0 <= offset < store_size or count < 1:
            continue
        handle.seek(store_start + offset)
        if kind == INT32:
            data = handle.read(4)
            found[name] = str(struct.unpack(">I", data)[0]) if len(data) == 4 else None
        elif kind in (STRING, I18N_STRING):
            data = handle.read(min(MAX_STRING, store_size - offset))
            if b"\0" not in data:
                raise PackageError(f"RPM {name} is not a terminated string")
            found[name] = data.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    return found
