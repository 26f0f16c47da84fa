"""Windows Installer packages (.msi): the Property table, read from the OLE compound file with olefile.

An MSI database keeps each table in a stream whose name is packed two characters to a UTF-16 code unit, and
keeps every string once, in the _StringPool (lengths) and _StringData (bytes) streams; a table cell holds a
string's number. The layout follows Wine's msi/table.c and msi/string.c.
"""
import codecs
import struct

import olefile

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import AppInfo, PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.desktop import arch_metadata, desktop_app_info, metadata_text

STREAM_NAME_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
TABLE_PREFIX = 0x4840
POOL_LIMIT = 4 * MIB  # a million strings; a large product's MSI has tens of thousands
STRING_DATA_LIMIT = 64 * MIB
PROPERTY_LIMIT = 4 * MIB
LONG_STRING_REFERENCES = 0x8000_0000
WANTED = ("ProductName", "ProductVersion", "Manufacturer", "UpgradeCode", "ProductCode")


def parse_msi(path):
    """AppInfo from an MSI's Property table: UpgradeCode as identifier, ProductVersion, ProductName and
    Manufacturer; the summary information's Template gives the architecture."""
    try:
        ole = olefile.OleFileIO(str(path))
    except Exception:  # olefile raises OSError, ValueError, struct and index errors on files it cannot read
        return AppInfo()
    with ole, metadata_errors_as_package_error("MSI"):
        streams = {_table_name(entry[0]): entry for entry in ole.listdir() if len(entry) == 1}
        if not {"!_StringPool", "!_StringData", "!Property"} <= streams.keys():
            raise PackageError("MSI has no Property table")
        pool = _stream(ole, streams["!_StringPool"], POOL_LIMIT)
        strings = _StringTable(pool, _stream(ole, streams["!_StringData"], STRING_DATA_LIMIT))
        properties = strings.table_pairs(_stream(ole, streams["!Property"], PROPERTY_LIMIT))
        return desktop_app_info(
            "msi", "windows",
            identifier=properties.get("UpgradeCode", ""),
            version=properties.get("ProductVersion", ""),
            name=properties.get("ProductName"),
            metadata={**_platform(ole), "manufacturer": metadata_text(properties.get("Manufacturer")),
                      "product_code": metadata_text(properties.get("ProductCode"))},
        )


def _table_name(name):
    """A stream name unpacked: "!" for the table prefix, two characters for a code unit in 0x3800-0x47FF and one
    for 0x4800-0x483F."""
    characters = []
    for character in name:
        code = ord(character)
        if code == TABLE_PREFIX:
            characters.append("!")
        elif 0x3800 <= code < 0x4800:
            code -= 0x3800
            characters.append(STREAM_NAME_CHARACTERS[code & 0x3F] + STREAM_NAME_CHARACTERS[code >> 6 & 0x3F])
        elif 0x4800 <= code < TABLE_PREFIX:
            characters.append(STREAM_NAME_CHARACTERS[code - 0x4800])
        else:
            characters.append(character)
    return "".join(characters)


def _stream(ole, entry, limit):
    if ole.get_size(entry) > limit:
        raise PackageError(f"MSI table {_table_name(entry[0])} is larger than {limit // MIB} MiB")
    try:
        return ole.openstream(entry).read(limit + 1)
    except OSError as exc:
        raise PackageError(f"MSI table {_table_name(entry[0])} cannot be read") from exc


class _StringTable:
    """The string pool: string number n (from 1) is at offsets[n] in the string data."""

    def __init__(self, pool, data):
        if len(pool) < 4:
            raise PackageError("MSI string pool is empty")
        (header,) = struct.unpack_from("<I", pool)
        self.reference_size = 3 if header & LONG_STRING_REFERENCES else 2
        self.encoding = _encoding(header & ~LONG_STRING_REFERENCES)
        self.data, self.offsets = data, {}
        entries = list(struct.iter_unpack("<HH", pool[4:len(pool) // 4 * 4]))
        offset, number, index = 0, 1, 0
        while index < len(entries):
            length, references = entries[index]
            if length == 0 and references == 0:
                index, number = index + 1, number + 1
                continue
            if length == 0:  # a string of 64 KiB or more: its length's high word is in the next entry
                if index + 1 >= len(entries):
                    break
                length = (entries[index + 1][1] << 16) + entries[index + 1][0]
                index += 2
            else:
                index += 1
            if offset + length > len(data):
                raise PackageError("MSI string pool runs past its string data")
            self.offsets[number] = (offset, length)
            offset, number = offset + length, number + 1

    def text(self, number):
        offset, length = self.offsets.get(number, (0, 0))
        return self.data[offset:offset + length].decode(self.encoding, "replace")

    def table_pairs(self, table):
        """A two-column table of strings (Property, Value) as a dict; tables are stored column by column."""
        rows = len(table) // (2 * self.reference_size)
        return {self.text(self._reference(table, row)): self.text(self._reference(table, rows + row))
                for row in range(rows)}

    def _reference(self, table, index):
        start = index * self.reference_size
        return int.from_bytes(table[start:start + self.reference_size], "little")


def _encoding(codepage):
    """Python's codec for an MSI code page: 0 (neutral) is read as Windows-1252, an unknown one as Latin-1."""
    name = {0: "cp1252", 65001: "utf-8"}.get(codepage, f"cp{codepage}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "latin-1"


def _platform(ole):
    """The architecture from the summary information's Template ("Intel;1033", "x64;0", "Arm64;0")."""
    try:
        template = ole.get_metadata().template
    except Exception:  # the summary stream is optional, and olefile raises many exception types on broken ones
        return {}
    if not isinstance(template, bytes):
        return {}
    platform = template.decode("latin-1").split(";", 1)[0].split(",", 1)[0]
    return {**arch_metadata(platform), "template": metadata_text(template.decode("latin-1"))}
