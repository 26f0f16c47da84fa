"""APK parsing: every corpus APK against its expected metadata, and APKs with binary XML manifests built here."""
import random
import signal
import struct
import time
import zipfile

import pytest

from fenfa_lib.packages import parse_package
from fenfa_lib.packages.android import Element, Ref, icon_rasters, raster_files
from fenfa_lib.packages.apk import parse_apk
from fenfa_lib.packages.appinfo import PackageError

from corpus import icon_size, sample, sample_names
from helpers import (
    APP_ICON,
    ARSC_REFERENCE,
    ARSC_STRING,
    AXML_BOOLEAN,
    AXML_REFERENCE,
    AXML_STRING,
    Axml,
    chained_arsc,
    count_calls,
    make_apk,
    make_arsc,
    make_png,
    manifest,
    package_entry,
)

# The launcher activity's own icon wins over the application icon, as on the home screen.
LAUNCHER_ICONS = {"android-a2dpvol-localized-label.apk": "res/drawable/icon5.png"}
ACTIVITY_ICON, FOREGROUND, BACKGROUND = 0x7F020001, 0x7F020002, 0x7F020003  # resource ids beside APP_ICON


@pytest.mark.parametrize("name", sample_names("*.apk"))
def test_corpus_apk_matches_expected_metadata(name):
    path, meta = sample(name)
    app = parse_apk(path)

    assert (app.package_type, app.platform, app.installable) == ("apk", "android", True)
    assert app.identifier == meta["package"]
    assert app.version == meta["versionName"]
    assert app.build == meta["versionCode"]
    assert (app.min_os, app.target_os) == (meta["minSdk"], meta["targetSdk"])
    assert app.display_name == meta["app_name_androguard"]
    assert app.device_family == (["watch"] if "android.hardware.type.watch" in meta["uses_features"] else [])

    with zipfile.ZipFile(path) as archive:
        if name in LAUNCHER_ICONS:
            assert app.icon == archive.read(LAUNCHER_ICONS[name])
            return
        rasters = {file: archive.read(file) for file in meta["icon_by_config"].values()
                   if file.endswith((".png", ".webp"))}
    largest = max(icon_size(data)[0] * icon_size(data)[1] for data in rasters.values())
    assert app.icon in rasters.values()
    assert icon_size(app.icon)[0] * icon_size(app.icon)[1] == largest


def test_corpus_label_without_a_default_config_uses_the_best_available():
    path, meta = sample("android-jamendo-minsdk4.apk")
    assert "(default)" not in meta["label_by_config"]
    assert parse_apk(path).display_name == "Jamendo"


def test_synthetic_apk_without_resource_table_uses_the_fallbacks(tmp_path):
    members = {
        "res/mipmap-hdpi-v4/ic_launcher.png": make_png(12, 12),
        "res/mipmap-xxxhdpi-v4/ic_launcher.png": make_png(48, 48),
        "res/drawable-xxxhdpi-v4/splash.png": make_png(90, 90),
    }
    app = parse_apk(make_apk(tmp_path / "app.apk", manifest(label=0x7F050001), members))

    assert app.identifier == "com.example.synthetic"
    assert (app.version, app.build) == ("3.1 beta", "31")
    assert (app.min_os, app.target_os) == ("21", "34")
    assert app.display_name == "com.example.synthetic"
    assert app.device_family == []
    assert icon_size(app.icon) == (48, 48)


def test_literal_label_and_watch_feature(tmp_path):
    app = parse_apk(make_apk(tmp_path / "app.apk", manifest(watch=True)))
    assert app.display_name == "Synthetic Label"
    assert app.device_family == ["watch"]
    assert app.icon is None


def test_optional_watch_feature_does_not_make_a_watch_app(tmp_path):
    optional = [("uses-feature", [("name", AXML_STRING, "android.hardware.type.watch"),
                                  ("required", AXML_BOOLEAN, False)])]
    assert parse_apk(make_apk(tmp_path / "app.apk", manifest(extra=optional))).device_family == []


@pytest.mark.parametrize("version_name, version_code, version, build", [
    (None, 7, "7", "7"),
    ("2.0", None, "2.0", "2.0"),
])
def test_either_version_attribute_stands_in_for_the_other(tmp_path, version_name, version_code, version, build):
    app = parse_apk(make_apk(tmp_path / "app.apk", manifest(version_name=version_name, version_code=version_code)))
    assert (app.version, app.build) == (version, build)


def looping_resource_table():
    """A table whose package holds a type-spec chunk of size 0, on which apkutils2's reader spins forever."""
    empty_pool = struct.pack("<HHIIIIII", 0x0001, 28, 28, 0, 0, 0, 28, 0)
    package_header = struct.pack("<I", 0x7F) + bytes(256) + struct.pack("<IIII", 0, 0, 0, 0)
    package_body = empty_pool + empty_pool + struct.pack("<HHIBBHI", 0x0202, 16, 0, 1, 0, 0, 0)
    package = struct.pack("<HHI", 0x0200, 8 + len(package_header), 8 + len(package_header) + len(package_body))
    package += package_header + package_body
    return struct.pack("<HHII", 0x0002, 12, 12 + len(empty_pool) + len(package), 1) + empty_pool + package


class Hung(BaseException):
    """Raised by the test's alarm; a BaseException so the parser's own error handling cannot swallow it."""


@pytest.mark.parametrize("table", [b"garbage" * 10, b"", looping_resource_table()])
def test_unreadable_resource_table_falls_back_to_the_package_name(tmp_path, table):
    def give_up(signum, frame):
        raise Hung("resource table parsing did not finish")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(10)
    try:
        app = parse_apk(make_apk(tmp_path / "app.apk", manifest(label=0x7F050001), {"resources.arsc": table}))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert app.display_name == "com.example.synthetic"


class FakeConfig:
    """Stands in for apkutils2's ARSCResTableConfig: a locale and a density qualifier."""

    def __init__(self, locale=0, density=0):
        self.locale, self.screenType = locale, density << 16

    def get_density(self):
        return self.screenType >> 16


class FakeEntry:
    """Stands in for apkutils2's ARSCResTableEntry of a plain value, and for the Res_value it holds."""

    def __init__(self, value):
        self.key, self.value = self, value

    def is_complex(self):
        return False

    def is_reference(self):
        return False

    def format_value(self):
        return self.value


class FakeTable:
    """Stands in for apkutils2's ARSCParser: resource id -> [(config, value)]."""
    values = {}

    def __init__(self, data):
        pass

    def get_res_configs(self, res_id):
        return [(config, FakeEntry(value)) for config, value in self.values.get(res_id, [])]


def parse_with_fake_table(tmp_path, monkeypatch, values, manifest_bytes, members=None):
    monkeypatch.setattr("fenfa_lib.packages.apk.ARSCParser", FakeTable)
    monkeypatch.setattr(FakeTable, "values", values)
    empty_table = struct.pack("<HHII", 0x0002, 12, 12, 0)
    return parse_apk(make_apk(tmp_path / "app.apk", manifest_bytes, {"resources.arsc": empty_table, **(members or {})}))


FRENCH, FINNISH = int.from_bytes(b"fr", "little"), int.from_bytes(b"fi", "little")


@pytest.mark.parametrize("configs, label", [
    ([(FakeConfig(FRENCH), "Étiquette"), (FakeConfig(0, 160), "Default mdpi"), (FakeConfig(), "Default")], "Default"),
    ([(FakeConfig(FINNISH), "Nimi"), (FakeConfig(0, 160), "Default mdpi")], "Default mdpi"),
    ([(FakeConfig(FINNISH), "Nimi")], "Nimi"),
])
def test_label_prefers_the_default_locale_then_the_fewest_qualifiers(tmp_path, monkeypatch, configs, label):
    app = parse_with_fake_table(tmp_path, monkeypatch, {0x7F050001: configs}, manifest(label=0x7F050001))
    assert app.display_name == label


def test_launcher_activity_icon_wins_then_the_highest_density_raster(tmp_path, monkeypatch):
    values = {APP_ICON: [(FakeConfig(density=640), "res/app-xxxhdpi.png")],
              ACTIVITY_ICON: [(FakeConfig(density=160), "res/launcher-mdpi.png"),
                              (FakeConfig(density=320), "res/launcher-xhdpi.png"),
                              (FakeConfig(density=0xFFFE), "res/launcher-anydpi.xml"),
                              (FakeConfig(density=0xFFFF), "res/launcher-nodpi.png")]}
    members = {"res/app-xxxhdpi.png": make_png(64, 64), "res/launcher-mdpi.png": make_png(16, 16),
               "res/launcher-xhdpi.png": make_png(32, 32), "res/launcher-nodpi.png": make_png(50, 50)}
    app = parse_with_fake_table(tmp_path, monkeypatch, values, manifest(launcher_icon=ACTIVITY_ICON), members)
    assert icon_size(app.icon) == (32, 32)


def test_adaptive_only_icon_uses_its_raster_foreground(tmp_path, monkeypatch):
    adaptive = Axml().start("adaptive-icon").start("background", [("drawable", AXML_REFERENCE, BACKGROUND)])
    adaptive.end("background").start("foreground", [("drawable", AXML_REFERENCE, FOREGROUND)]).end("foreground")
    values = {APP_ICON: [(FakeConfig(density=0xFFFE), "res/obfuscated.xml")],
              FOREGROUND: [(FakeConfig(density=480), "res/fg.png")],
              BACKGROUND: [(FakeConfig(density=640), "res/bg.png")]}
    members = {"res/obfuscated.xml": adaptive.end("adaptive-icon").build(), "res/fg.png": make_png(24, 24),
               "res/bg.png": make_png(40, 40)}
    app = parse_with_fake_table(tmp_path, monkeypatch, values, manifest(), members)
    assert icon_size(app.icon) == (24, 24)


def test_only_png_and_webp_files_are_icon_rasters_whatever_their_case():
    files = [(160, "res/a.png"), (320, "res/b.WEBP"), (0xFFFE, "res/c.xml"), (480, "res/d.png.xml"), (640, "res/e.jpg")]
    assert raster_files(files) == [(160, "res/a.png"), (320, "res/b.WEBP")]


ADAPTIVE_ICON = Element("adaptive-icon", {}, [Element("background", {"drawable": Ref(BACKGROUND)}),
                                              Element("foreground", {"drawable": Ref(FOREGROUND)})])


@pytest.mark.parametrize("files, xml, rasters", [
    ([(160, "res/icon.png"), (0xFFFE, "res/icon.xml")], b"adaptive", [(160, "res/icon.png")]),
    ([(0xFFFE, "res/icon.xml")], b"adaptive", [(480, "res/fg.webp")]),
    ([(0xFFFE, "res/icon.xml")], b"broken", []),
    ([(0xFFFE, "res/icon.xml")], b"not adaptive", []),
    ([(0xFFFE, "res/missing.xml")], b"adaptive", []),
])
def test_icon_rasters_fall_back_to_a_parsable_adaptive_icons_foreground(tmp_path, files, xml, rasters):
    trees = {b"adaptive": ADAPTIVE_ICON, b"not adaptive": Element("vector", {}, [ADAPTIVE_ICON.children[1]])}
    layers = {Ref(FOREGROUND): [(480, "res/fg.webp")], Ref(BACKGROUND): [(640, "res/bg.png")]}
    with zipfile.ZipFile(tmp_path / "icons.zip", "w") as archive:
        archive.writestr("res/icon.xml", xml)
    with zipfile.ZipFile(tmp_path / "icons.zip") as archive:
        assert icon_rasters(archive, files, layers.get, trees.get) == rasters


@pytest.mark.parametrize("manifest_bytes, message", [
    (None, "AndroidManifest.xml is missing"),
    (b"<manifest package='com.example.text'/>", "not valid binary XML"),
    (b"\x03\x00\x08\x00" + b"\xff" * 40, "not valid binary XML"),
    (manifest(package=None), "no package name"),
    (manifest(version_name=None, version_code=None), "no versionName or versionCode"),
    (manifest(package="a" * 256), "package name is not valid"),
    (manifest(package="com.example app"), "package name is not valid"),
    (manifest(package="com.example\u2028app"), "package name is not valid"),
    (manifest(package="com.example\x7fapp"), "package name is not valid"),
    (manifest(version_name="v" * 65), "versionName is longer than 64 characters"),
    (manifest(version_name="1.0\x07b"), "versionName holds control characters"),
    (manifest(version_name=None, version_code="1" * 65), "versionCode is longer than 64 characters"),
])
def test_unusable_apk_raises_package_error(tmp_path, manifest_bytes, message):
    with pytest.raises(PackageError, match=message):
        parse_apk(make_apk(tmp_path / "bad.apk", manifest_bytes))


def test_metadata_at_the_length_limits_is_kept_and_longer_text_is_cut(tmp_path):
    bytes_manifest = manifest(package="p" * 255, version_name="v" * 64, version_code="7" * 64, label="L" * 300,
                              min_sdk="²" * 40, target_sdk="3" * 33)
    app = parse_apk(make_apk(tmp_path / "app.apk", bytes_manifest))
    assert (app.identifier, app.version, app.build) == ("p" * 255, "v" * 64, "7" * 64)
    assert (app.display_name, app.min_os, app.target_os) == ("L" * 255, "²" * 32, "3" * 32)


@pytest.mark.parametrize("error", [ValueError("x"), TypeError("x"), KeyError("x"), IndexError("x"),
                                   struct.error("x"), RecursionError("x")], ids=repr)
def test_unexpected_errors_while_reading_metadata_become_a_package_error(tmp_path, monkeypatch, error):
    def broken(root):
        raise error

    monkeypatch.setattr("fenfa_lib.packages.apk.read_manifest", broken)
    with pytest.raises(PackageError, match="^APK metadata cannot be read$") as raised:
        parse_apk(make_apk(tmp_path / "app.apk", manifest()))
    assert raised.value.__cause__ is error


def test_not_a_zip_raises_package_error(tmp_path):
    path = tmp_path / "bad.apk"
    path.write_bytes(b"PK\x03\x04 but not really a zip archive")
    with pytest.raises(PackageError, match="not a zip archive"):
        parse_apk(path)


def test_mutated_manifests_only_ever_raise_package_error(tmp_path, monkeypatch):
    read = count_calls(monkeypatch, "fenfa_lib.packages.apk.read_manifest")
    good, generator = manifest(), random.Random(1234)
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(generator.randint(1, 6)):
            damaged[generator.randrange(len(damaged))] = generator.randrange(256)
        try:
            parse_apk(make_apk(tmp_path / "fuzz.apk", bytes(damaged)))
        except PackageError:
            pass
    assert len(read) > 0, "no mutated manifest got past the zip and the binary XML decoder into read_manifest"


def test_parse_package_dispatches_apk_by_extension(tmp_path):
    path = make_apk(tmp_path / "upload.bin", manifest())
    assert parse_package(path, "Release.APK").identifier == "com.example.synthetic"


def timed_parse(path, limit=10):
    """(AppInfo, seconds) of parse_apk, failing the test (rather than hanging it) after `limit` seconds."""
    def give_up(signum, frame):
        raise Hung(f"parsing took more than {limit} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(limit)
    try:
        started = time.monotonic()
        app = parse_apk(path)
        return app, time.monotonic() - started
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_chained_references_fanning_out_are_resolved_once_each(tmp_path):
    # 14 references deep with 3 configurations each: 3 ** 14 paths, which took apkutils2's resolver hours.
    members = {"resources.arsc": chained_arsc(14, 3), "res/mipmap/icon.png": make_png(8, 8)}
    path = make_apk(tmp_path / "chained.apk", manifest(label=0x7F010000), members)
    assert path.stat().st_size < 16 * 1024
    app, seconds = timed_parse(path)
    assert seconds < 2
    assert app.display_name == "Chained Label"
    assert icon_size(app.icon) == (8, 8)


def test_references_past_the_depth_bound_are_unresolvable(tmp_path):
    members = {"resources.arsc": chained_arsc(40, 3), "res/mipmap/icon.png": make_png(8, 8),
               "res/mipmap-hdpi/ic_launcher.png": make_png(12, 12)}
    app, seconds = timed_parse(make_apk(tmp_path / "deep.apk", manifest(label=0x7F010000), members))
    assert seconds < 2
    assert app.display_name == "com.example.synthetic"  # as for a missing label
    assert icon_size(app.icon) == (12, 12)  # the fallback, as for a missing icon


def test_reference_cycles_are_unresolvable(tmp_path):
    cycle = [(160, [(ARSC_REFERENCE, package_entry(1, 1)), (ARSC_REFERENCE, package_entry(1, 0))]),
             (320, [(ARSC_STRING, 0), (ARSC_REFERENCE, package_entry(1, 0))])]
    table = make_arsc(["Looped"], {1: ("string", cycle), 2: ("mipmap", [(160, [(ARSC_REFERENCE, APP_ICON)])])})
    app, seconds = timed_parse(make_apk(tmp_path / "cycle.apk", manifest(label=0x7F010000), {"resources.arsc": table}))
    assert seconds < 2
    assert (app.display_name, app.icon) == ("com.example.synthetic", None)


def test_a_wide_table_costs_a_bounded_number_of_resolutions(tmp_path):
    # 60 configurations of 60 entries that each point at every later entry's configurations.
    configs = [(density, [(ARSC_REFERENCE, package_entry(1, i + 1)) for i in range(59)] + [(ARSC_STRING, 0)])
               for density in range(1, 61)]
    table = make_arsc(["Wide"], {1: ("string", configs)})
    app, seconds = timed_parse(make_apk(tmp_path / "wide.apk", manifest(label=0x7F010000), {"resources.arsc": table}))
    assert seconds < 2
    assert app.display_name in ("Wide", "com.example.synthetic")


def jar_signer_sha256(path):
    """SHA-256 of the first certificate in META-INF/*.RSA|DSA|EC, read with cryptography (not asn1crypto)."""
    import hashlib
    import re

    from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if re.match(r"META-INF/[^/]+\.(RSA|DSA|EC)$", name)]
        if not names:
            return None
        certificate = pkcs7.load_der_pkcs7_certificates(archive.read(names[0]))[0]
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


@pytest.mark.parametrize("name", sample_names("*.apk"))
def test_corpus_apk_signatures_abis_and_features_match_expected_metadata(name):
    path, meta = sample(name)
    metadata = parse_apk(path).metadata

    assert metadata["signature_schemes"] == [scheme for scheme in ("v1", "v2", "v3") if meta["signing"][scheme]]
    assert metadata["native_abis"] == meta["native_abis"]
    assert [feature["name"] for feature in metadata["features"]] == meta["uses_features"]
    assert all(isinstance(permission, str) and "." in permission for permission in metadata["permissions"])
    assert len(metadata["signer_sha256"]) == 64
    if meta["signing"]["v1"]:  # with v2 as well, the v2 block's certificate is the same one
        assert metadata["signer_sha256"] == jar_signer_sha256(path)


def test_manifest_permissions_and_optional_features(tmp_path):
    app = parse_apk(make_apk(tmp_path / "app.apk", manifest(extra=[
        ("uses-permission", [("name", AXML_STRING, "android.permission.CAMERA")]),
        ("uses-permission-sdk-23", [("name", AXML_STRING, "android.permission.INTERNET")]),
        ("uses-permission", [("name", AXML_STRING, "android.permission.CAMERA")]),
        ("uses-feature", [("name", AXML_STRING, "android.hardware.camera"), ("required", AXML_BOOLEAN, False)]),
        ("uses-feature", [("glEsVersion", AXML_STRING, "0x20000")]),
    ]), members={"lib/x86_64/libfoo.so": b"", "lib/readme.txt": b"", "assets/lib/arm64-v8a/x.so": b""}))
    assert app.metadata["permissions"] == ["android.permission.CAMERA", "android.permission.INTERNET"]
    assert app.metadata["features"] == [{"name": "android.hardware.camera", "required": False}]
    assert app.metadata["native_abis"] == ["x86_64"]
    assert app.metadata["signature_schemes"] == [] and app.metadata["signer_sha256"] is None


def signing_block(*pairs):
    """An APK Signing Block of (id, value) pairs, as it sits before the central directory."""
    body = b"".join(struct.pack("<QI", len(value) + 4, pair_id) + value for pair_id, value in pairs)
    size = len(body) + 24
    return struct.pack("<Q", size) + body + struct.pack("<Q", size) + b"APK Sig Block 42"


def with_block_before_directory(path, block):
    """The zip at `path` with `block` inserted before its central directory (whose offset is moved past it)."""
    data = path.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    (directory,) = struct.unpack_from("<I", data, end + 16)
    moved = data[end:end + 16] + struct.pack("<I", directory + len(block)) + data[end + 20:]
    path.write_bytes(data[:directory] + block + data[directory:end] + moved)
    return path


def prefixed(*values):
    return b"".join(struct.pack("<I", len(value)) + value for value in values)


def test_v3_signer_certificate_wins_and_hostile_blocks_are_ignored(tmp_path):
    import hashlib

    certificate = b"0\x82 a certificate"
    signed_data = prefixed(prefixed(), prefixed(certificate))
    v3 = prefixed(prefixed(prefixed(signed_data)))
    block = signing_block((0x7109871A, b"\xff\xff\xff\xff cut short"), (0xF05368C0, v3))
    path = with_block_before_directory(make_apk(tmp_path / "app.apk", manifest()), block)
    metadata = parse_apk(path).metadata
    assert metadata["signature_schemes"] == ["v2", "v3"]
    assert metadata["signer_sha256"] == hashlib.sha256(certificate).hexdigest()


@pytest.mark.parametrize("block", [
    b"\xff" * 16 + b"APK Sig Block 42",
    struct.pack("<Q", 1 << 40) + b"APK Sig Block 42",
    signing_block((0x7109871A, b"")),
    signing_block()[:-24] + struct.pack("<Q", 99) + b"APK Sig Block 42",
])
def test_broken_signing_blocks_sign_nothing(tmp_path, block):
    path = with_block_before_directory(make_apk(tmp_path / "app.apk", manifest()), block)
    metadata = parse_apk(path).metadata
    assert metadata["signer_sha256"] is None and metadata["signature_schemes"] in ([], ["v2"])
