"""Android App Bundles (.aab): aapt2's protobuf manifest and resource table, read with a small wire-format decoder."""
import re
from functools import partial

from fenfa_lib.config import MIB
from fenfa_lib.packages.android import (
    ANDROID_ATTRIBUTES,
    Element,
    Ref,
    References,
    Unresolvable,
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
from fenfa_lib.text import is_ascii_number

MANIFEST = "base/manifest/AndroidManifest.xml"
MANIFEST_LIMIT = 8 * MIB
TABLE_LIMIT = 32 * MIB
DENSITIES = {"ldpi": 120, "mdpi": 160, "tvdpi": 213, "hdpi": 240, "xhdpi": 320, "xxhdpi": 480, "xxxhdpi": 640}
NATIVE_LIBRARY = re.compile(r"^[^/]+/lib/([^/]+)/[^/]+\.so$")  # in any module, not only base/
FALLBACK_ICON = re.compile(r"^base/res/mipmap-([^/]*)/ic_launcher\.(png|webp)$")


def parse_aab(path):
    """AppInfo for an .aab file (not installable on a device); raises PackageError when it is not a usable bundle."""
    with open_zip(path, "AAB") as archive, metadata_errors_as_package_error("AAB"):
        data = read_member(archive, MANIFEST, MANIFEST_LIMIT)
        try:
            root = _xml_node(data)
        except (ValueError, IndexError, RecursionError) as exc:
            raise PackageError("AndroidManifest.xml in the bundle is not a valid aapt2 protobuf") from exc
        if root is None:
            raise PackageError("AndroidManifest.xml in the bundle has no root element")
        manifest = read_manifest(root)
        data = read_optional(archive, "base/resources.pb", TABLE_LIMIT)
        table = References(_Table(data).configs) if data else None
        icon = _icon(archive, table, manifest.icons) if table else None
        archive_metadata = {"native_abis": native_abis(archive, NATIVE_LIBRARY), **android_signing(path, archive)}
        return build_app_info("aab", manifest, lambda ref: _string(table, ref), icon or _fallback_icon(archive),
                              archive_metadata)


def _fields(data):
    """(field number, value) of each protobuf field: an int, or a memoryview for length-delimited fields."""
    view, position = memoryview(data), 0
    while position < len(view):
        key, position = _varint(view, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _varint(view, position)
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, position = int.from_bytes(view[position:position + size], "little"), position + size
        elif wire_type == 2:
            size, position = _varint(view, position)
            value, position = view[position:position + size], position + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        if position > len(view):
            raise ValueError("truncated protobuf field")
        yield number, value


def _varint(view, position):
    result = shift = 0
    while shift < 64:
        byte = view[position]
        result |= (byte & 0x7F) << shift
        position += 1
        if byte < 0x80:
            return result, position
        shift += 7
    raise ValueError("protobuf varint is too long")


def _field(data, number, kind=memoryview, default=None):
    """The last value of a field (as protobuf takes it), which must be an int or a memoryview as `kind` says."""
    found = default
    for value in _repeated(data, number, kind):
        found = value
    return found


def _repeated(data, number, kind=memoryview):
    for field_number, value in _fields(data):
        if field_number == number:
            if not isinstance(value, kind):
                raise ValueError(f"protobuf field {number} has the wrong wire type")
            yield value


def _number(data, number):
    return _field(data, number, int, 0)


def _text(value):
    return bytes(value).decode("utf-8", "replace") if value is not None else None


def _xml_node(data):
    """The Element of an XmlNode message, or None for a text node."""
    element = _field(data, 1)
    if element is None:
        return None
    attrs = dict(map(_xml_attribute, _repeated(element, 4)))
    children = [child for child in map(_xml_node, _repeated(element, 5)) if child is not None]
    return Element(_text(_field(element, 3)) or "", attrs, children)


def _xml_attribute(data):
    """(name, value) with the value typed like the binary XML reader's: Ref, int, bool or str."""
    name = ANDROID_ATTRIBUTES.get(_number(data, 5)) or _text(_field(data, 2)) or ""
    text, item = _text(_field(data, 3)) or "", _field(data, 6)
    reference = _field(item, 1) if item is not None else None
    if reference is not None:
        return name, Ref(_number(reference, 2))
    if item is not None and _field(item, 7) is not None:  # a compiled primitive; its text is exact
        if text in ("true", "false"):
            return name, text == "true"
        if is_ascii_number(text, max_digits=10):  # a 32-bit value has at most 10 digits
            return name, int(text)
    return name, text


class _Table:
    """Entries of resources.pb by resource id. A type's entries are indexed on its first lookup, so each part of
    the table is decoded once per parse however many references point into it."""

    def __init__(self, data):
        self.data, self.types, self.entries = data, None, {}

    def configs(self, res_id):
        """A resource's configurations for References: ((locale, density, qualifier count, Item bytes), None) for
        a value, (None, target id) for a reference."""
        configs = []
        for config_value in _repeated(self._entry(res_id) or b"", 6):
            locale, density, qualifiers, item = _config_value(config_value)
            reference = _field(item, 1) if item is not None else None
            if reference is not None:
                configs.append((None, _number(reference, 2)))
            elif item is not None:
                configs.append(((locale, density, qualifiers, bytes(item)), None))
        return configs

    def _entry(self, res_id):
        """The first Entry with the id in the first Type and Package with theirs, or None."""
        if self.types is None:
            types = {}
            for package in _repeated(self.data, 2):
                for resource_type in _repeated(package, 3):
                    types.setdefault((_id(package), _id(resource_type)), []).append(resource_type)
            self.types = types
        key = res_id >> 24, (res_id >> 16) & 0xFF
        if key not in self.entries:
            entries = {}
            for resource_type in self.types.get(key, []):
                for entry in _repeated(resource_type, 3):
                    entries.setdefault(_id(entry), entry)
            self.entries[key] = entries
        return self.entries[key].get(res_id & 0xFFFF)


def _id(message):
    """The id of a Package, Type or Entry: field 1 of the PackageId/TypeId/EntryId in its field 1."""
    return _number(_field(message, 1, default=b""), 1)


def _config_value(data):
    config, value = _field(data, 1, default=b""), _field(data, 2)
    qualifiers = len({number for number, _ in _fields(config)})
    return _text(_field(config, 3)) or "", _number(config, 18), qualifiers, _field(value, 4) if value else None


def _resolve(table, ref):
    """(locale, density, qualifier count, Item) for a resource, following references; [] when unresolvable."""
    try:
        return table.resolve(ref.id) if table else []
    except Unresolvable:
        return []


def _string(table, ref):
    """The default-locale string, else the one with the fewest qualifiers."""
    try:
        strings = [(locale != "", qualifiers, _text(_field(_field(item, 2), 1, default=b"")))
                   for locale, _, qualifiers, item in _resolve(table, ref) if _field(item, 2)]
    except (ValueError, IndexError, RecursionError):
        return None
    return min(strings)[2] if strings else None


def _files(table, ref):
    """(density rank, path in the bundle) of the files a resource points to."""
    try:
        return [(density_rank(density), "base/" + _text(_field(_field(item, 5), 1, default=b"")))
                for _, density, _, item in _resolve(table, ref) if _field(item, 5) is not None]
    except (ValueError, IndexError, RecursionError):
        return []


def _icon(archive, table, refs):
    """The highest-density readable raster (see icon_rasters) of the first icon resource that has one."""
    for ref in refs:
        rasters = icon_rasters(archive, _files(table, ref), partial(_files, table), _xml_tree)
        icon = first_image(archive, [name for _, name in sorted(rasters, reverse=True)])
        if icon:
            return icon
    return None


def _xml_tree(data):
    """The root Element of a proto XML file, or None when it does not parse or has no root element."""
    try:
        return _xml_node(data)
    except (ValueError, IndexError, RecursionError):
        return None


def _fallback_icon(archive):
    """The highest-density base/res/mipmap-*/ic_launcher raster, when resources.pb gives none."""
    candidates = []
    for name in archive.namelist():
        match = FALLBACK_ICON.match(name)
        if match:
            density = max((DENSITIES.get(qualifier, 0) for qualifier in match.group(1).split("-")), default=0)
            candidates.append((density, name))
    return first_image(archive, [name for _, name in sorted(candidates, reverse=True)])
