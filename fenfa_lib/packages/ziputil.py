"""Bounded zip reads: members are decompressed up to a size cap, whatever their headers claim."""
import zipfile
import zlib

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import PackageError


def open_zip(path, kind):
    """Open a package as a zip archive, or raise PackageError naming the package kind."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise PackageError(f"{kind} file is not a zip archive") from exc


def read_member(archive, name, limit):
    """The member's bytes, decompressing at most `limit` bytes whatever its header claims."""
    try:
        with archive.open(name) as member:
            data = member.read(limit + 1)
    except KeyError as exc:
        raise PackageError(f"{name} is missing") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise PackageError(f"{name} cannot be read from the archive") from exc
    if len(data) > limit:
        raise PackageError(f"{name} is larger than {limit // MIB} MiB")
    return data


def read_optional(archive, name, limit):
    """Like read_member, but None when the member is missing, broken or too large."""
    try:
        return read_member(archive, name, limit)
    except PackageError:
        return None
