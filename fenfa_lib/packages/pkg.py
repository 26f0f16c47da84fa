"""macOS installer packages (.pkg): the identifier and version of a xar archive's Distribution or PackageInfo.

A product archive's Distribution names the product in <product id version>; most name none, and then the
package is the one the first line of <choices-outline> installs (its first pkg-ref), with the version its
pkg-ref declares. A component package has a PackageInfo with <pkg-info identifier version> instead.
"""
import bz2
import struct
import zlib

from fenfa_lib.config import MIB
from fenfa_lib.packages.appinfo import AppInfo, PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.desktop import desktop_app_info, metadata_text, parse_xml

XAR_MAGIC = b"xar!"
XAR_HEADER = struct.Struct(">4sHHQQ")
TOC_LIMIT = 16 * MIB
DOCUMENT_LIMIT = 4 * MIB
MAX_COMPONENTS = 64


def parse_pkg(path):
    """AppInfo from a flat .pkg (xar): identifier, version, title, minimum macOS and the components."""
    with open(path, "rb") as handle, metadata_errors_as_package_error("pkg"):
        files = _top_level_files(handle)
        if files is None:
            return AppInfo()
        if "Distribution" in files:
            return _from_distribution(parse_xml(_read(handle, files["Distribution"], "Distribution"), "Distribution"))
        if "PackageInfo" in files:
            return _from_package_info(parse_xml(_read(handle, files["PackageInfo"], "PackageInfo"), "PackageInfo"))
        return AppInfo()


def _top_level_files(handle):
    """{name: (heap offset, stored length, encoding)} of the archive's top-level files, positions counted from
    the start of the file; None when the xar header or table of contents does not read."""
    header = handle.read(XAR_HEADER.size)
    if len(header) < XAR_HEADER.size:
        return None
    magic, header_size, _, toc_length, toc_size = XAR_HEADER.unpack(header)
    if magic != XAR_MAGIC or toc_size > TOC_LIMIT or toc_length > TOC_LIMIT:
        return None
    handle.seek(header_size)
    try:
        toc = _inflate(handle.read(toc_length), "application/x-gzip", TOC_LIMIT)
        root = parse_xml(toc, "xar table of contents")
    except PackageError:
        return None
    heap = header_size + toc_length
    files = {}
    for entry in root.find("toc") if root.find("toc") is not None else []:
        data = entry.find("data")
        if entry.tag != "file" or data is None:
            continue
        encoding = data.find("encoding")
        files.setdefault(entry.findtext("name", ""), (
            heap + _number(data.findtext("offset")),
            _number(data.findtext("length")),
            encoding.get("style", "") if encoding is not None else "application/octet-stream",
        ))
    return files


def _number(text):
    """A TOC number, or a huge one (which no read accepts) when it is missing or not a number."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else 1 << 64


def _read(handle, entry, name):
    offset, length, encoding = entry
    if length > DOCUMENT_LIMIT:
        raise PackageError(f"{name} is larger than {DOCUMENT_LIMIT // MIB} MiB")
    handle.seek(offset)
    return _inflate(handle.read(length), encoding, DOCUMENT_LIMIT, name)


def _inflate(data, encoding, limit, name="xar table of contents"):
    """A xar member's bytes, decompressing at most `limit` (xar's "x-gzip" is zlib, with or without a gzip
    header)."""
    try:
        if encoding == "application/x-gzip":
            content = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data, limit + 1)
        elif encoding == "application/x-bzip2":
            content = bz2.BZ2Decompressor().decompress(data, limit + 1)
        elif encoding == "application/octet-stream":
            content = data
        else:
            raise PackageError(f"{name} has an unknown encoding")
    except (zlib.error, OSError, ValueError, EOFError) as exc:
        raise PackageError(f"{name} cannot be decompressed") from exc
    if len(content) > limit:
        raise PackageError(f"{name} is larger than {limit // MIB} MiB")
    return content


def _from_distribution(root):
    pkg_refs = [ref for ref in root.iter("pkg-ref") if ref.get("id")]
    versions = {}
    for ref in pkg_refs:
        if ref.get("version"):
            versions.setdefault(ref.get("id"), ref.get("version"))
    product = root.find("product")
    if product is not None and product.get("id"):
        identifier, version = product.get("id"), product.get("version", "")
    else:
        identifier = _first_choice_package(root) or next((ref.get("id") for ref in pkg_refs), "")
        version = versions.get(identifier, "")
    if not identifier:
        return AppInfo()
    os_version = next(root.iter("os-version"), None)
    title = metadata_text(root.findtext("title"))
    return desktop_app_info("pkg", "macos", identifier=identifier, version=version, name=title,
                            min_os=os_version.get("min") if os_version is not None else None, metadata={
        "title": title,
        "components": [{"identifier": metadata_text(ref_id), "version": metadata_text(ref_version)}
                       for ref_id, ref_version in list(versions.items())[:MAX_COMPONENTS]],
    })


def _first_choice_package(root):
    """The first pkg-ref id of the choice on the first line of the choices outline, or None."""
    line = next(root.iter("line"), None)
    choice_id = line.get("choice") if line is not None else None
    for choice in root.iter("choice"):
        if choice.get("id") == choice_id:
            ref = choice.find("pkg-ref")
            return ref.get("id") if ref is not None else None
    return None


def _from_package_info(root):
    if root.tag != "pkg-info" or not root.get("identifier"):
        raise PackageError("PackageInfo has no pkg-info identifier")
    return desktop_app_info("pkg", "macos", identifier=root.get("identifier"), version=root.get("version", ""))
