"""Android packages (.apk): the manifest and resource table via apkutils2's low-level parsers, member by member."""
import contextlib
import io
import re
import struct
from functools import partial

from apkutils2.axml import axmlparser
from apkutils2.axml.arscparser import ARSCParser

from fenfa_lib.config import MIB
from fenfa_lib.packages.android import (
    ANDROID_ATTRIBUTES,
    Element,
    Ref,
    References,
    build_app_info,
    density_rank,
    first_image,
    icon_rasters,
    native_abis,
    read_manifest,
)
from fenfa_lib.packages.appinfo import PackageError, metadata_errors_as_package_error
from fenfa_lib.packages.signing import android_signing
from fenfa_lib.packages.ziputil import open_zip, read_member, read_optional

MANIFEST_LIMIT = 8 * MIB
ARSC_LIMIT = 32 * MIB
NATIVE_LIBRARY = re.compile(r"^lib/([^/]+)/[^/]+\.so$")
FALLBACK_ICON = re.compile(r"^res/mipmap[^/]*/ic_launcher[^/]*\.(png|webp)$")
CONFIG_FIELDS = ("imsi", "locale", "screenType", "input", "screenSize", "version", "screenConfig", "screenSizeDp")


def parse_apk(path):
    """AppInfo for an .apk file; raises PackageError when it is not a usable Android app."""
    with open_zip(path, "APK") as archive, metadata_errors_as_package_error("APK"):
        root = binary_xml_tree(read_member(archive, "AndroidManifest.xml", MANIFEST_LIMIT))
        if root is None:
            raise PackageError("AndroidManifest.xml is not valid binary XML")
        manifest = read_manifest(root)
        table = _resource_table(archive)
        resolve = partial(_resolved, References(partial(_configs, table))) if table else lambda ref: []
        icon = _icon(archive, resolve, manifest.icons) if table else None
        archive_metadata = {"native_abis": native_abis(archive, NATIVE_LIBRARY), **android_signing(path, archive)}
        return build_app_info("apk", manifest, lambda ref: _string(resolve, ref), icon or _fallback_icon(archive),
                              archive_metadata)


def binary_xml_tree(data):
    """The root Element of an Android binary XML document, or None when it does not parse."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # apkutils2 prints its warnings
            parser = axmlparser.AXMLParser(data)
            return _build_tree(parser)
    except Exception:  # apkutils2 raises bare Exception, struct.error, IndexError... on malformed input
        return None


def _build_tree(parser):
    root, open_elements = None, []
    while True:
        event = next(parser)
        if event == axmlparser.START_TAG:
            element = Element(parser.get_name(), _attributes(parser))
            if open_elements:
                open_elements[-1].children.append(element)
            elif root is None:
                root = element
            open_elements.append(element)
        elif event == axmlparser.END_TAG and open_elements:
            open_elements.pop()
        elif event in (axmlparser.END_DOCUMENT, -1):
            return root


def _attributes(parser):
    attrs = {}
    for index in range(int(parser.get_attribute_count())):
        kind, data = parser.get_attribute_valueType(index), parser.get_attribute_value_data(index)
        if kind == axmlparser.TYPE_STRING:
            value = parser.get_attribute_value(index)
        elif kind == axmlparser.TYPE_REFERENCE:
            value = Ref(data)
        elif kind == axmlparser.TYPE_INT_BOOLEAN:
            value = data != 0
        elif axmlparser.TYPE_FIRST_INT <= kind <= axmlparser.TYPE_LAST_INT:
            value = data
        else:
            continue
        attrs[_attribute_name(parser, index)] = value
    return attrs


def _attribute_name(parser, index):
    """Android attributes by resource id, which the platform trusts, since obfuscators rename the name strings."""
    name_index = parser.m_attributes[parser.get_attribute_offset(index) + axmlparser.ATTRIBUTE_IX_NAME]
    if 0 <= name_index < len(parser.m_resourceIDs):
        name = ANDROID_ATTRIBUTES.get(parser.m_resourceIDs[name_index])
        if name:
            return name
    return parser.get_attribute_name(index).removeprefix("android:")


def _resource_table(archive):
    """apkutils2's parsed resources.arsc, or None when it is missing or in a form apkutils2 misreads."""
    data = read_optional(archive, "resources.arsc", ARSC_LIMIT)
    if data is None or not _walkable_table(data):
        return None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return ARSCParser(data)
    except Exception:  # apkutils2 raises many exception types on tables it cannot read
        return None


def _walkable_table(data):
    """Well-formed chunk sizes (a zero size makes apkutils2 loop forever) and none of aapt2's sparse,
    16-bit-offset, compact or deduplicated entries, which apkutils2 reads as garbage."""
    try:
        kind, header_size, size = struct.unpack_from("<HHI", data)
        if kind != 0x0002:
            return False
        packages = [chunk for chunk in _chunks(data, header_size, size) if chunk[0] == 0x0200]
        for _, start, header_size, size in packages:
            for kind, *chunk in _chunks(data, start + header_size, start + size):
                if kind == 0x0201 and not _plain_type_chunk(data, *chunk):
                    return False
    except (struct.error, ValueError):
        return False
    return True


def _chunks(data, position, end):
    """(type, start, header size, size) of the chunks laid end to end in data[position:end]."""
    if end > len(data):
        raise ValueError("chunk runs past the end of the table")
    while position < end:
        kind, header_size, size = struct.unpack_from("<HHI", data, position)
        if not 8 <= header_size <= size or position + size > end:
            raise ValueError("malformed chunk")
        yield kind, position, header_size, size
        position += size


def _plain_type_chunk(data, start, header_size, size):
    flags, entry_count, entries_start = data[start + 9], *struct.unpack_from("<II", data, start + 12)
    if flags & 0x03 or header_size + 4 * entry_count > size:
        return False
    previous = -1
    for (offset,) in struct.iter_unpack("<I", data[start + header_size:start + header_size + 4 * entry_count]):
        if offset == 0xFFFFFFFF:
            continue
        entry = start + entries_start + offset
        if offset <= previous or entry + 8 > start + size or data[entry + 2] & 0x08:
            return False
        previous = offset
    return True


def _configs(table, res_id):
    """A resource's configurations for References: ((config, value), None) for a plain value, (None, target) for
    a reference, as apkutils2's own resolver reads them (it drops references to 0 and fails on complex values)."""
    configs = []
    for config, entry in table.get_res_configs(res_id):
        if entry.is_complex():
            raise ValueError(f"resource {res_id:#x} is a complex value")
        if not entry.key.is_reference():
            configs.append(((config, entry.key.format_value()), None))
        elif entry.key.get_data():
            configs.append((None, entry.key.get_data()))
    return configs


def _resolved(references, ref):
    """(config, value) pairs for a resource id, following references; [] when it cannot be resolved."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return [(config, value) for config, value in references.resolve(ref.id) if isinstance(value, str)]
    except Exception:  # apkutils2 raises many exception types on tables it cannot read; Unresolvable too
        return []


def _string(resolve, ref):
    """The default-locale value, else the one with the fewest qualifiers (some apps have no plain default)."""
    values = resolve(ref)
    return min(values, key=lambda pair: (pair[0].locale != 0, _qualifier_count(pair[0])))[1] if values else None


def _qualifier_count(config):
    return sum(1 for name in CONFIG_FIELDS if getattr(config, name, 0))


def _icon(archive, resolve, refs):
    """The readable raster (see icon_rasters) of the first icon resource that has one, by density then file size."""
    for ref in refs:
        rasters = icon_rasters(archive, resolve(ref), resolve, binary_xml_tree)
        names = sorted({name for _, name in rasters}, key=lambda name: _icon_rank(archive, rasters, name))
        icon = first_image(archive, reversed(names))
        if icon:
            return icon
    return None


def _icon_rank(archive, rasters, name):
    """Density first, then file size."""
    density = max(density_rank(config.get_density()) for config, value in rasters if value == name)
    try:
        return density, archive.getinfo(name).file_size
    except KeyError:
        return density, 0


def _fallback_icon(archive):
    """The largest res/mipmap*/ic_launcher* raster, for tables apkutils2 cannot read."""
    candidates = sorted((info.file_size, info.filename) for info in archive.infolist()
                        if FALLBACK_ICON.match(info.filename))
    return first_image(archive, [name for _, name in reversed(candidates)])
