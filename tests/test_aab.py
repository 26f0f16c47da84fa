"""AAB parsing: the corpus bundle against its expected metadata, and bundles with protobuf manifests built here."""
import random
import struct
import time
import zipfile

import pytest

from fenfa_lib.packages import parse_package
from fenfa_lib.packages.aab import parse_aab
from fenfa_lib.packages.appinfo import PackageError

from corpus import icon_size, sample, sample_names
from helpers import count_calls, make_png

ANDROID_NS = "http://schemas.android.com/apk/res/android"
ATTRIBUTE_IDS = {"label": 0x01010001, "icon": 0x01010002, "name": 0x01010003, "versionCode": 0x0101021B,
                 "versionName": 0x0101021C, "minSdkVersion": 0x0101020C, "targetSdkVersion": 0x01010270,
                 "drawable": 0x01010199}
LABEL_ID, ICON_ID, FOREGROUND_ID = 0x7F0F0001, 0x7F0C0000, 0x7F070002


@pytest.mark.parametrize("name", sample_names("*.aab"))
def test_corpus_aab_matches_expected_metadata(name):
    path, meta = sample(name)
    app = parse_aab(path)

    assert (app.package_type, app.platform, app.installable) == ("aab", "android", False)
    assert app.identifier == meta["package"]
    assert (app.version, app.build) == (meta["versionName"], meta["versionCode"])
    assert (app.min_os, app.target_os) == (meta["minSdk"], meta["targetSdk"])
    assert app.display_name == meta["label_by_locale"]["(default)"]
    with zipfile.ZipFile(path) as archive:
        rasters = [archive.read("base/" + file) for file in meta["icon_files"] if file.endswith((".png", ".webp"))]
    assert app.icon in rasters
    assert icon_size(app.icon) == max((icon_size(data) for data in rasters), key=lambda size: size[0] * size[1])


def varint(value):
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def field(number, value):
    """One protobuf field: ints as varints, bytes/str/nested messages as length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def message(*fields):
    return b"".join(field(number, value) for number, value in fields)


def attribute(name, text, item=None):
    fields = [(1, ANDROID_NS), (2, name), (3, text)] if name in ATTRIBUTE_IDS else [(2, name), (3, text)]
    fields += [(5, ATTRIBUTE_IDS[name])] if name in ATTRIBUTE_IDS else []
    return message(*fields, *([(6, item)] if item else []))


def reference(res_id):
    return message((1, message((2, res_id))))


def primitive(number):
    return message((7, message((6, number))))


def element(tag, attributes=(), children=()):
    return message((1, message((3, tag), *[(4, attr) for attr in attributes], *[(5, child) for child in children])))


def proto_manifest(package="com.example.bundle", version_code=12, version_name="1.2", label=None, min_sdk="24"):
    sdk = element("uses-sdk", [attribute("minSdkVersion", min_sdk, primitive(24)),
                               attribute("targetSdkVersion", "34", primitive(34))])
    if label is None:
        label_attr = attribute("label", "@string/app_name", reference(LABEL_ID))
    else:
        label_attr = attribute("label", label)
    application = element("application", [label_attr, attribute("icon", "@mipmap/ic_launcher", reference(ICON_ID))])
    attrs = [attribute("package", package)] if package else []
    attrs += [attribute("versionCode", str(version_code), primitive(version_code))] if version_code else []
    attrs += [attribute("versionName", version_name)] if version_name else []
    return element("manifest", attrs, [sdk, application])


def config_value(item, locale="", density=0):
    config = message(*([(3, locale)] if locale else []), *([(18, density)] if density else []))
    return message((1, config), (2, message((4, item))))


def entry(entry_id, *values):
    entry_id_message = message((1, entry_id)) if entry_id else b""  # proto3 leaves out a zero id
    return message((1, entry_id_message), *[(6, value) for value in values])


def string_item(text):
    return message((2, message((1, text))))


def file_item(path):
    return message((5, message((1, path))))


def resource_type(type_id, name, *entries):
    return message((1, message((1, type_id))), (2, name), *[(3, entry_bytes) for entry_bytes in entries])


def file_entry(entry_id, files):
    """An entry with one FileReference per (density, path)."""
    return entry(entry_id, *[config_value(file_item(path), density=density) for density, path in files])


def resource_table(icon_files, foreground_files=()):
    label = entry(1, config_value(string_item("Bündel"), "de"), config_value(string_item("Bundle Label")))
    package = message((1, message((1, 0x7F))), (2, "com.example.bundle"),
                      (3, resource_type(0x0F, "string", label)),
                      (3, resource_type(0x0C, "mipmap", file_entry(0, icon_files))),
                      (3, resource_type(0x07, "drawable", file_entry(2, foreground_files))))
    return message((2, package))


def make_aab(path, manifest_bytes, members=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("BundleConfig.pb", b"")
        if manifest_bytes is not None:
            archive.writestr("base/manifest/AndroidManifest.xml", manifest_bytes)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


def test_synthetic_bundle_resolves_label_and_icon_through_resources_pb(tmp_path):
    icons = [(160, "res/mipmap-mdpi-v4/ic_launcher.png"), (480, "res/mipmap-xxhdpi-v4/ic_launcher.png"),
             (240, "res/mipmap-hdpi-v4/ic_launcher.png"), (0xFFFE, "res/mipmap-anydpi-v26/ic_launcher.xml")]
    members = {"base/resources.pb": resource_table(icons),
               "base/res/mipmap-mdpi-v4/ic_launcher.png": make_png(8, 8),
               "base/res/mipmap-hdpi-v4/ic_launcher.png": make_png(12, 12),
               "base/res/mipmap-xxhdpi-v4/ic_launcher.png": make_png(24, 24)}
    app = parse_aab(make_aab(tmp_path / "app.aab", proto_manifest(), members))

    assert app.identifier == "com.example.bundle"
    assert (app.version, app.build) == ("1.2", "12")
    assert (app.min_os, app.target_os) == ("24", "34")
    assert app.display_name == "Bundle Label"
    assert icon_size(app.icon) == (24, 24)
    assert app.installable is False


def test_adaptive_only_icon_uses_a_raster_foreground(tmp_path):
    adaptive = element("adaptive-icon", children=[element("foreground", [
        attribute("drawable", "@drawable/fg", reference(FOREGROUND_ID))])])
    foregrounds = [(320, "res/drawable-xhdpi/fg.png"), (160, "res/drawable-mdpi/fg.png")]
    members = {"base/resources.pb": resource_table([(0xFFFE, "res/mipmap-anydpi-v26/ic_launcher.xml")], foregrounds),
               "base/res/mipmap-anydpi-v26/ic_launcher.xml": adaptive,
               "base/res/drawable-xhdpi/fg.png": make_png(16, 16),
               "base/res/drawable-mdpi/fg.png": make_png(8, 8)}
    app = parse_aab(make_aab(tmp_path / "app.aab", proto_manifest(), members))
    assert icon_size(app.icon) == (16, 16)


def test_unparsable_adaptive_icon_falls_back_to_the_launcher_mipmap(tmp_path):
    members = {"base/resources.pb": resource_table([(0xFFFE, "res/mipmap-anydpi-v26/ic_launcher.xml")]),
               "base/res/mipmap-anydpi-v26/ic_launcher.xml": b"\x0a\xff\xff\xff\xff\x0f",
               "base/res/mipmap-hdpi-v4/ic_launcher.png": make_png(12, 12)}
    app = parse_aab(make_aab(tmp_path / "app.aab", proto_manifest(), members))
    assert icon_size(app.icon) == (12, 12)


def test_bundle_without_resources_pb_uses_the_fallbacks(tmp_path):
    members = {"base/res/mipmap-xxxhdpi-v4/ic_launcher.webp": b"not really a webp",
               "base/res/mipmap-xhdpi-v4/ic_launcher.png": make_png(20, 20),
               "base/res/mipmap-hdpi-v4/ic_launcher.png": make_png(30, 30),
               "base/res/mipmap-xxhdpi-v4/ic_launcher_round.png": make_png(40, 40)}
    app = parse_aab(make_aab(tmp_path / "app.aab", proto_manifest(), members))
    assert app.display_name == "com.example.bundle"
    assert icon_size(app.icon) == (20, 20)


def test_literal_label(tmp_path):
    assert parse_aab(make_aab(tmp_path / "app.aab", proto_manifest(label="Literal"))).display_name == "Literal"


@pytest.mark.parametrize("manifest_bytes, message_part", [
    (None, "is missing"),
    (b"\x0a\xff\xff\xff\xff\x0f", "not a valid aapt2 protobuf"),
    (message((2, "just text")), "has no root element"),
    (proto_manifest(package=None), "no package name"),
    (proto_manifest(version_code=None, version_name=None), "no versionName or versionCode"),
    (proto_manifest(package="com.example bundle"), "package name is not valid"),
    (proto_manifest(version_name="1" * 65), "versionName is longer than 64 characters"),
])
def test_unusable_bundle_raises_package_error(tmp_path, manifest_bytes, message_part):
    with pytest.raises(PackageError, match=message_part):
        parse_aab(make_aab(tmp_path / "bad.aab", manifest_bytes))


@pytest.mark.parametrize("text, min_os", [("24", "24"), ("²", "²"), ("١٤", "١٤"), ("1" * 5000, "1" * 32)])
def test_a_primitive_is_read_as_a_number_only_from_ascii_digits(tmp_path, text, min_os):
    assert parse_aab(make_aab(tmp_path / "app.aab", proto_manifest(min_sdk=text))).min_os == min_os


@pytest.mark.parametrize("error", [ValueError("x"), TypeError("x"), KeyError("x"), IndexError("x"),
                                   struct.error("x"), RecursionError("x")], ids=repr)
def test_unexpected_errors_while_reading_metadata_become_a_package_error(tmp_path, monkeypatch, error):
    def broken(root):
        raise error

    monkeypatch.setattr("fenfa_lib.packages.aab.read_manifest", broken)
    with pytest.raises(PackageError, match="^AAB metadata cannot be read$") as raised:
        parse_aab(make_aab(tmp_path / "app.aab", proto_manifest()))
    assert raised.value.__cause__ is error


def test_mutated_manifests_only_ever_raise_package_error(tmp_path, monkeypatch):
    read = count_calls(monkeypatch, "fenfa_lib.packages.aab.read_manifest")
    good, generator = proto_manifest(), random.Random(99)
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(generator.randint(1, 6)):
            damaged[generator.randrange(len(damaged))] = generator.randrange(256)
        try:
            parse_aab(make_aab(tmp_path / "fuzz.aab", bytes(damaged)))
        except PackageError:
            pass
    assert len(read) > 0, "no mutated manifest got past the zip and the protobuf decoder into read_manifest"


def test_parse_package_dispatches_aab_by_extension(tmp_path):
    path = make_aab(tmp_path / "upload.bin", proto_manifest())
    assert parse_package(path, "bundle.AAB").identifier == "com.example.bundle"


def chained_entries(type_id, first, depth, fan_out, leaf_item):
    """Entries first..first+depth of a type: each has fan_out densities all referring to the next entry, the last
    holds leaf_item, so following every reference visits fan_out ** depth paths."""
    entries = []
    for index in range(first, first + depth):
        target = 0x7F000000 | type_id << 16 | (index + 1)
        entries.append(entry(index, *[config_value(reference(target), density=d + 1) for d in range(fan_out)]))
    return entries + [entry(first + depth, *[config_value(leaf_item, density=d + 1) for d in range(fan_out)])]


def chained_bundle(path, depth, fan_out, members=None):
    package = message((1, message((1, 0x7F))), (2, "com.example.bundle"),
                      (3, resource_type(0x0F, "string", *chained_entries(0x0F, 1, depth, fan_out,
                                                                         string_item("Chained")))),
                      (3, resource_type(0x0C, "mipmap", *chained_entries(0x0C, 0, depth, fan_out,
                                                                         file_item("res/icon.png")))))
    members = {"base/resources.pb": message((2, package)), "base/res/icon.png": make_png(8, 8), **(members or {})}
    return make_aab(path, proto_manifest(), members)


def timed_parse(path):
    started = time.monotonic()
    app = parse_aab(path)
    return app, time.monotonic() - started


def test_chained_references_fanning_out_are_resolved_once_each(tmp_path):
    # Five references deep, eight configurations each: the old reader walked 8 ** 5 paths, for over 10 s.
    path = chained_bundle(tmp_path / "chained.aab", 5, 8)
    assert path.stat().st_size < 2048
    app, seconds = timed_parse(path)
    assert seconds < 2
    assert app.display_name == "Chained"
    assert icon_size(app.icon) == (8, 8)


def test_references_past_the_depth_bound_are_unresolvable(tmp_path):
    mipmap = {"base/res/mipmap-hdpi/ic_launcher.png": make_png(12, 12)}
    app, seconds = timed_parse(chained_bundle(tmp_path / "deep.aab", 40, 2, mipmap))
    assert seconds < 2
    assert app.display_name == "com.example.bundle"  # as for a missing label
    assert icon_size(app.icon) == (12, 12)  # the fallback, as for a missing icon


def test_reference_cycles_are_unresolvable(tmp_path):
    label = entry(1, config_value(reference(LABEL_ID + 1)), config_value(string_item("Looped"), density=160))
    loop = entry(2, config_value(reference(LABEL_ID)))
    package = message((1, message((1, 0x7F))), (3, resource_type(0x0F, "string", label, loop)))
    app, seconds = timed_parse(make_aab(tmp_path / "cycle.aab", proto_manifest(),
                                        {"base/resources.pb": message((2, package))}))
    assert seconds < 2
    assert app.display_name == "com.example.bundle"


def test_corpus_bundle_is_jar_signed_by_the_apk_samples_signer():
    from test_apk import jar_signer_sha256

    path, _ = sample("android-appinfodemo.aab")
    metadata = parse_aab(path).metadata
    assert metadata["signature_schemes"] == ["v1"]
    assert metadata["signer_sha256"] == jar_signer_sha256(path)
    apk, _ = sample("android-appinfodemo-obfuscated-res-adaptive.apk")
    assert metadata["signer_sha256"] == parse_package(apk, apk.name).metadata["signer_sha256"]
    assert metadata["native_abis"] == []
    assert [feature["name"] for feature in metadata["features"]] == ["android.hardware.bluetooth"]
