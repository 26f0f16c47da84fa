"""Debian packages (.deb): the control file inside the ar archive's control.tar.{gz,xz,zst,bz2}."""
import bz2
import gzip
import io
import lzma
import tarfile
import zlib

import zstandard

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import AppInfo, PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.desktop import arch_metadata, desktop_app_info, metadata_text

AR_MAGIC = b"!<arch>\n"
AR_HEADER_SIZE = 60
MAX_AR_MEMBERS = 16  # debian-binary, control.tar.*, data.tar.* and a few signatures
CONTROL_LIMIT = 16 * MIB  # control.tar, compressed or not: scripts, md5sums and the control file
MAX_CONTROL_FIELDS = 1000
DECOMPRESSORS = {
    "control.tar": lambda stream: stream,
    "control.tar.gz": lambda stream: gzip.GzipFile(fileobj=stream),
    "control.tar.xz": lzma.LZMAFile,
    "control.tar.bz2": bz2.BZ2File,
    "control.tar.zst": lambda stream: zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True),
}
DECOMPRESSION_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, zstandard.ZstdError, tarfile.TarError)


def parse_deb(path):
    """AppInfo from a .deb's control file: Package, Version, Architecture and the Description's first line."""
    with open(path, "rb") as handle, metadata_errors_as_package_error("deb"):
        member = _control_member(handle)
        if member is None:
            return AppInfo()
        name, data = member
        fields = _control_fields(_control_file(name, data))
        if not fields.get("package"):
            raise PackageError("control file has no Package field")
        return desktop_app_info(
            "deb", "linux",
            identifier=fields["package"],
            version=fields.get("version", ""),
            metadata={**arch_metadata(fields.get("architecture")),
                      "summary": metadata_text(fields.get("description", "").split("\n", 1)[0]),
                      "maintainer": metadata_text(fields.get("maintainer"))},
        )


def _control_member(handle):
    """(name, bytes) of the control.tar member among the ar archive's first members, or None when the archive
    has none or does not parse."""
    if handle.read(len(AR_MAGIC)) != AR_MAGIC:
        return None
    for _ in range(MAX_AR_MEMBERS):
        header = handle.read(AR_HEADER_SIZE)
        if len(header) < AR_HEADER_SIZE or header[58:60] != b"`\n" or not header[48:58].strip().isdigit():
            return None
        name, size = header[:16].decode("ascii", "replace").strip().rstrip("/"), int(header[48:58])
        if name in DECOMPRESSORS:
            if size > CONTROL_LIMIT:
                raise PackageError(f"{name} is larger than {CONTROL_LIMIT // MIB} MiB")
            data = handle.read(size)
            if len(data) < size:
                raise PackageError(f"{name} is cut short")
            return name, data
        handle.seek(size + size % 2, io.SEEK_CUR)
    return None


def _control_file(name, data):
    """The text of ./control in the control archive, decompressing at most CONTROL_LIMIT bytes."""
    try:
        with DECOMPRESSORS[name](io.BytesIO(data)) as stream:
            tar_bytes = stream.read(CONTROL_LIMIT + 1)
        if len(tar_bytes) > CONTROL_LIMIT:
            raise PackageError(f"{name} unpacks to more than {CONTROL_LIMIT // MIB} MiB")
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
            for member in archive:
                if member.isfile() and member.name.removeprefix("./") == "control":
                    return archive.extractfile(member).read().decode("utf-8", "replace")
    except DECOMPRESSION_ERRORS as exc:
        raise PackageError(f"{name} cannot be read") from exc
    raise PackageError(f"{name} has no control file")


def _control_fields(text):
    """Field names in lower case to values, continuation lines joined with newlines (deb822, first paragraph)."""
    fields, current = {}, None
    for line in text.split("\n"):
        if not line.strip():
            if fields:
                break
        elif line[0] in " \t" and current:
            fields[current] += "\n" + line.strip()
        elif ":" in line and len(fields) < MAX_CONTROL_FIELDS:
            current, value = line.split(":", 1)
            current = current.strip().lower()
            fields[current] = value.strip()
    return fields
