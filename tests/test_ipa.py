"""IPA parsing: every corpus IPA (and invalid package) against its expected metadata, and IPAs built here."""
import plistlib
import re
import reprlib
import struct
import time
import zipfile
import zlib
from datetime import UTC, datetime

import pytest

from fenfa_lib.packages import parse_package
from fenfa_lib.packages.appinfo import AppInfo, PackageError
from fenfa_lib.packages.ipa import parse_ipa

from corpus import icon_size, ihdr_size, sample, sample_names
from helpers import (
    CGBI_CHUNK_BODY,
    ber_chunked_profile,
    chunk,
    count_calls,
    make_cgbi,
    make_png,
    profile_plist,
    sample_pixels,
)

FAMILIES = {1: "iphone", 2: "ipad", 3: "tv", 4: "watch"}
KINDS = {"enterprise/in-house": "enterprise"}
INVALID_MESSAGES = {
    "invalid/ipa-not-a-zip.ipa": "not a zip archive",
    "invalid/ipa-empty-payload.ipa": "no Payload/*.app/Info.plist",
    "invalid/ipa-no-info-plist.ipa": "no Payload/*.app/Info.plist",
    "invalid/ipa-no-version-keys.ipa": "no CFBundleShortVersionString or CFBundleVersion",
}


@pytest.mark.parametrize("name", sample_names("*.ipa"))
def test_corpus_ipa_matches_expected_metadata(name):
    path, meta = sample(name)
    app = parse_ipa(path)

    assert (app.package_type, app.platform, app.installable) == ("ipa", "ios", True)
    assert app.identifier == meta["CFBundleIdentifier"]
    assert app.version == meta["CFBundleShortVersionString"]
    assert app.build == meta["CFBundleVersion"]
    assert app.min_os == meta["MinimumOSVersion"]
    assert app.display_name == (meta["CFBundleDisplayName"] or meta["CFBundleName"])
    assert app.device_family == [FAMILIES[family] for family in meta["UIDeviceFamily"]]

    profile_meta = meta["mobileprovisions"][meta["info_plist"].replace("Info.plist", "embedded.mobileprovision")]
    assert app.profile.kind == KINDS.get(profile_meta["type"], profile_meta["type"])
    assert app.profile.uuid == profile_meta["UUID"]
    assert app.profile.team_id == profile_meta["TeamIdentifier"][0]
    assert app.profile.expires_at == datetime.fromisoformat(profile_meta["ExpirationDate"]).replace(tzinfo=UTC)
    assert len(app.profile.devices) == profile_meta["devices"]

    if not meta["top_level_pngs"]:
        assert app.icon is None
        return
    app_dir = meta["info_plist"].removesuffix("Info.plist")
    with zipfile.ZipFile(path) as archive:
        sizes = [ihdr_size(archive.read(app_dir + png)) for png in meta["top_level_pngs"]]
    assert icon_size(app.icon) == max(sizes, key=lambda size: size[0] * size[1])


@pytest.mark.parametrize("name", sample_names("invalid/*"))
def test_corpus_invalid_package_raises_package_error(name):
    path, _ = sample(name)
    assert name in INVALID_MESSAGES, f"add the expected error for {name}"
    with pytest.raises(PackageError, match=re.escape(INVALID_MESSAGES[name])):
        parse_package(path, name)


def info(**overrides):
    plist = {
        "CFBundleIdentifier": "com.example.synthetic",
        "CFBundleShortVersionString": "2.3.4",
        "CFBundleVersion": "567",
        "CFBundleName": "Synthetic",
        "MinimumOSVersion": "15.0",
        "DTPlatformVersion": "17.2",
        "UIDeviceFamily": [1, 2],
        "CFBundleSupportedPlatforms": ["iPhoneOS"],
    }
    plist.update(overrides)
    return {key: value for key, value in plist.items() if value is not None}


def make_ipa(path, plist, app_dir="Payload/My App.app/", fmt=plistlib.FMT_BINARY, members=None):
    """An IPA whose decoys come before the real Info.plist in the archive."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__MACOSX/Payload/Other.app/._Info.plist", b"\x00\x05\x16\x07AppleDouble")
        archive.writestr(app_dir + "Frameworks/Decoy.framework/Info.plist",
                         plistlib.dumps(info(CFBundleIdentifier="io.decoy.framework")))
        archive.writestr(app_dir + "PlugIns/Share.appex/Info.plist",
                         plistlib.dumps(info(CFBundleIdentifier="com.example.synthetic.share")))
        archive.writestr(app_dir + "Watch/Watch.app/Info.plist",
                         plistlib.dumps(info(CFBundleIdentifier="com.example.synthetic.watch")))
        if plist is not None:
            encoded = plist if isinstance(plist, bytes) else plistlib.dumps(plist, fmt=fmt)
            archive.writestr(app_dir + "Info.plist", encoded)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("fmt", [plistlib.FMT_BINARY, plistlib.FMT_XML])
def test_synthetic_ipa_with_decoys_and_a_space_in_the_app_dir(tmp_path, fmt):
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", info(CFBundleDisplayName="Synth Display"), fmt=fmt))

    assert app.identifier == "com.example.synthetic"
    assert (app.version, app.build) == ("2.3.4", "567")
    assert app.display_name == "Synth Display"
    assert (app.min_os, app.target_os) == ("15.0", "17.2")
    assert app.device_family == ["iphone", "ipad"]
    assert (app.icon, app.profile) == (None, None)


@pytest.mark.parametrize("overrides, version, build", [
    ({"CFBundleShortVersionString": None}, "567", "567"),
    ({"CFBundleVersion": None}, "2.3.4", "2.3.4"),
    ({"CFBundleVersion": 42}, "2.3.4", "42"),
    ({"CFBundleShortVersionString": "  3.0 "}, "3.0", "567"),
])
def test_either_version_key_stands_in_for_the_other(tmp_path, overrides, version, build):
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", info(**overrides)))
    assert (app.version, app.build) == (version, build)


@pytest.mark.parametrize("overrides, name", [
    ({"CFBundleDisplayName": "Shown"}, "Shown"),
    ({}, "Synthetic"),
    ({"CFBundleName": None}, "com.example.synthetic"),
])
def test_display_name_falls_back_to_bundle_name_then_identifier(tmp_path, overrides, name):
    assert parse_ipa(make_ipa(tmp_path / "app.ipa", info(**overrides))).display_name == name


@pytest.mark.parametrize("overrides, family", [
    ({"UIDeviceFamily": [2]}, ["ipad"]),
    ({"UIDeviceFamily": None}, ["iphone"]),
    ({"UIDeviceFamily": ["1", 2]}, ["iphone", "ipad"]),
    ({"UIDeviceFamily": ["١", "²", 2]}, ["ipad"]),
    ({"UIDeviceFamily": 1}, ["iphone"]),
    ({"UIDeviceFamily": [3], "CFBundleSupportedPlatforms": ["AppleTVOS"]}, ["tv"]),
    ({"UIDeviceFamily": None, "CFBundleSupportedPlatforms": ["AppleTVOS"]}, ["tv"]),
    ({"UIDeviceFamily": [4], "CFBundleSupportedPlatforms": ["WatchOS"]}, ["watch"]),
])
def test_device_family(tmp_path, overrides, family):
    assert parse_ipa(make_ipa(tmp_path / "app.ipa", info(**overrides))).device_family == family


def blank_cgbi(side):
    """A valid transparent CgBI too large to be an app's root icon (cheap to build: unfiltered zero rows)."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflater.compress((b"\x00" + bytes(side * 4)) * side) + deflater.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"CgBI", CGBI_CHUNK_BODY) + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def test_largest_declared_icon_up_to_1024_px_is_chosen_and_decrushed(tmp_path):
    app_dir = "Payload/My App.app/"
    plist = info(CFBundleIcons={"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60"]}},
                 **{"CFBundleIcons~ipad": {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon76x76"]}}})
    members = {
        app_dir + "AppIcon60x60@2x.png": make_png(12, 12),
        app_dir + "AppIcon76x76@2x~ipad.png": make_cgbi(20, 20, sample_pixels(20, 20)),
        app_dir + "LaunchImage@3x.png": make_png(40, 40),
        app_dir + "AppIcon60x60@4x.png": blank_cgbi(1025),
        app_dir + "Sub/AppIcon60x60@3x.png": make_png(30, 30),
    }
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", plist, members=members))
    assert icon_size(app.icon) == (20, 20)


@pytest.mark.parametrize("icons", [
    {"CFBundleIcons": {"CFBundlePrimaryIcon": "AppIcon"}},
    {"CFBundleIconFiles": ["AppIcon.png"]},
    {"CFBundleIconFile": "AppIcon"},
])
def test_other_icon_declarations(tmp_path, icons):
    members = {"Payload/My App.app/AppIcon@2x.png": make_png(8, 8)}
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", info(**icons), members=members))
    assert icon_size(app.icon) == (8, 8)


def test_broken_icon_and_profile_are_left_out_without_failing(tmp_path):
    app_dir = "Payload/My App.app/"
    members = {
        app_dir + "AppIcon60x60@2x.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 10,
        app_dir + "AppIcon60x60@3x.png": make_cgbi(50, 50, sample_pixels(50, 50))[:80],
        app_dir + "embedded.mobileprovision": b"garbage",
    }
    plist = info(CFBundleIconFiles=["AppIcon60x60"])
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", plist, members=members))
    assert (app.icon, app.profile) == (None, None)


def test_embedded_profile_is_parsed(tmp_path):
    profile = ber_chunked_profile(profile_plist(ProvisionsAllDevices=True))
    members = {"Payload/My App.app/embedded.mobileprovision": profile}
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", info(), members=members))
    assert app.profile.kind == "enterprise"
    assert app.profile.team_id == "TEAM123456"


def test_oversized_info_plist_is_rejected_without_trusting_the_header(tmp_path):
    huge = info(Padding="x" * (9 * 1024 * 1024))
    path = make_ipa(tmp_path / "bomb.ipa", huge, fmt=plistlib.FMT_XML)
    assert path.stat().st_size < 100_000
    with pytest.raises(PackageError, match="larger than 8 MiB"):
        parse_ipa(path)


@pytest.mark.parametrize("plist, members, message", [
    (None, {}, r"no Payload/\*\.app/Info\.plist"),
    (b"not a plist at all", {}, "not a valid property list"),
    (plistlib.dumps(["a", "list"]), {}, "not a dictionary"),
    (info(CFBundleIdentifier=None), {}, "no CFBundleIdentifier"),
    (info(CFBundleIdentifier="   "), {}, "no CFBundleIdentifier"),
    (info(CFBundleShortVersionString=None, CFBundleVersion=None), {},
     "no CFBundleShortVersionString or CFBundleVersion"),
    (info(), {"Payload/Second.app/Info.plist": plistlib.dumps(info())}, "more than one"),
    (info(CFBundleIdentifier="a" * 300_000), {}, "bundle identifier is not valid"),
    (info(CFBundleIdentifier="a" * 256), {}, "bundle identifier is not valid"),
    (info(CFBundleIdentifier="com.example app"), {}, "bundle identifier is not valid"),
    (info(CFBundleIdentifier="com.example\u00a0app"), {}, "bundle identifier is not valid"),
    (info(CFBundleIdentifier="com.example\napp"), {}, "bundle identifier is not valid"),
    (info(CFBundleIdentifier="com.example\x00app"), {}, "bundle identifier is not valid"),
    (info(CFBundleIdentifier="com.example\u200bapp"), {}, "bundle identifier is not valid"),
    (info(CFBundleVersion="1" * 65), {}, "CFBundleVersion is longer than 64 characters"),
    (info(CFBundleVersion="1.0\x00"), {}, "CFBundleVersion holds control characters"),
    (info(CFBundleShortVersionString="1." * 33), {}, "CFBundleShortVersionString is longer than 64 characters"),
    (info(CFBundleShortVersionString=None, CFBundleVersion="9" * 5000), {}, "CFBundleVersion is longer than 64"),
])
def test_unusable_ipa_raises_package_error(tmp_path, plist, members, message):
    with pytest.raises(PackageError, match=message):
        parse_ipa(make_ipa(tmp_path / "bad.ipa", plist, members=members))


ODD_VALUES = [1, True, 2.5, float("inf"), "text", "", "²", "1" * 5000, ["1" * 5000], ["0" * 4, "0" * 5000, 2],
              [], [{}], [1.5, [], "2"], {}, {"a": [{}]}, b"bytes", datetime(2020, 1, 1)]


# Every key parse_ipa reads, as a path from the top of Info.plist: the top-level keys, and the primary icon (a name
# or a dictionary of icon files) inside either icons dictionary.
READ_KEYS = [(key,) for key in ("CFBundleIdentifier", "CFBundleShortVersionString", "CFBundleVersion",
                                "CFBundleDisplayName", "CFBundleName", "MinimumOSVersion", "DTPlatformVersion",
                                "UIDeviceFamily", "CFBundleSupportedPlatforms", "CFBundleIcons", "CFBundleIcons~ipad",
                                "CFBundleIconFiles", "CFBundleIconFile")]
READ_KEYS += [(icons, "CFBundlePrimaryIcon", *files) for icons in ("CFBundleIcons", "CFBundleIcons~ipad")
              for files in ((), ("CFBundleIconFiles",))]


@pytest.mark.parametrize("value", ODD_VALUES, ids=reprlib.repr)
@pytest.mark.parametrize("path", READ_KEYS, ids="/".join)
def test_odd_value_types_in_any_key_never_crash(tmp_path, path, value):
    for key in reversed(path[1:]):  # nest the odd value under the rest of the path
        value = {key: value}
    plist = info(**{path[0]: value})
    try:
        app = parse_ipa(make_ipa(tmp_path / "odd.ipa", plist, fmt=plistlib.FMT_XML))
    except PackageError:
        return
    assert isinstance(app.identifier, str) and isinstance(app.version, str) and isinstance(app.build, str)


@pytest.mark.parametrize("family, found", [(["1" * 5000], []), (["2", "1" * 5000], ["ipad"]), (["002"], ["ipad"])])
def test_device_family_numbers_are_bounded(tmp_path, family, found):
    assert parse_ipa(make_ipa(tmp_path / "app.ipa", info(UIDeviceFamily=family))).device_family == found


def test_metadata_at_the_length_limits_is_kept_and_longer_text_is_cut(tmp_path):
    plist = info(CFBundleIdentifier="a" * 255, CFBundleShortVersionString="1" * 64, CFBundleVersion="2" * 64,
                 CFBundleDisplayName="N" * 300_000, MinimumOSVersion="3" * 33, DTPlatformVersion="4" * 5000)
    app = parse_ipa(make_ipa(tmp_path / "app.ipa", plist))
    assert (app.identifier, app.version, app.build) == ("a" * 255, "1" * 64, "2" * 64)
    assert (app.display_name, app.min_os, app.target_os) == ("N" * 255, "3" * 32, "4" * 32)


@pytest.mark.parametrize("error", [ValueError("x"), TypeError("x"), KeyError("x"), IndexError("x"),
                                   struct.error("x"), RecursionError("x")], ids=repr)
def test_unexpected_errors_while_reading_metadata_become_a_package_error(tmp_path, monkeypatch, error):
    def broken(plist):
        raise error

    monkeypatch.setattr("fenfa_lib.packages.ipa._device_family", broken)
    with pytest.raises(PackageError, match="^IPA metadata cannot be read$") as raised:
        parse_ipa(make_ipa(tmp_path / "app.ipa", info()))
    assert raised.value.__cause__ is error


def test_damaged_archives_only_ever_raise_package_error(tmp_path, monkeypatch):
    good = make_ipa(tmp_path / "good.ipa", info()).read_bytes()
    loaded = count_calls(monkeypatch, "fenfa_lib.packages.ipa.load_plist")
    for cut in range(0, len(good), max(1, len(good) // 60)):
        damaged = tmp_path / "damaged.ipa"
        damaged.write_bytes(good[:cut] + bytes(b ^ 0x5A for b in good[cut:cut + 7]) + good[cut + 7:])
        try:
            parse_ipa(damaged)
        except PackageError:
            pass
    assert len(loaded) > 0, "no damaged archive got past the zip checks into the Info.plist parser"


@pytest.mark.parametrize("file_name", ["App.ipa", "APP.IPA", "release-1.0.Ipa"])
def test_parse_package_dispatches_ipa_by_extension(tmp_path, file_name):
    path = make_ipa(tmp_path / "upload.bin", info())
    assert parse_package(path, file_name).identifier == "com.example.synthetic"


@pytest.mark.parametrize("file_name", ["setup.exe", "App.dmg", "app.zip", "README"])
def test_parse_package_ignores_other_files(tmp_path, file_name):
    path = make_ipa(tmp_path / "upload.bin", info())
    assert parse_package(path, file_name) == AppInfo()
    assert not parse_package(path, file_name).is_app


def test_cgbi_icon_whose_last_ihdr_is_huge_is_dropped_quickly(tmp_path):
    from test_images import two_header_cgbi

    members = {"Payload/My App.app/AppIcon@2x.png": two_header_cgbi()}
    path = make_ipa(tmp_path / "app.ipa", info(CFBundleIconFiles=["AppIcon"]), members=members)
    assert path.stat().st_size < 8 * 1024
    started = time.monotonic()
    app = parse_ipa(path)
    assert time.monotonic() - started < 2
    assert app.icon is None and app.identifier == "com.example.synthetic"


def test_icon_with_a_bad_crc_is_dropped(tmp_path):
    good = make_png(8, 8)
    broken = good[:-20] + bytes([good[-20] ^ 0xFF]) + good[-19:]
    members = {"Payload/My App.app/AppIcon@2x.png": broken}
    assert parse_ipa(make_ipa(tmp_path / "app.ipa", info(CFBundleIconFiles=["AppIcon"]), members=members)).icon is None


@pytest.mark.parametrize("name", sample_names("*.ipa"))
def test_corpus_ipa_admin_metadata(name):
    path, meta = sample(name)
    app = parse_ipa(path)
    app_dir = meta["info_plist"][:-len("Info.plist")]
    profiles = meta["mobileprovisions"]
    assert app.metadata["ui_device_family"] == meta["UIDeviceFamily"]
    appex_profiles = [profile["appid"].split(".", 1)[1] for profile_name, profile in profiles.items()
                      if profile_name.startswith(app_dir + "PlugIns/")]
    assert app.metadata["app_extensions"] == appex_profiles
    assert len(app.metadata["app_extensions"]) == sum(bundle.endswith(".appex") for bundle in meta["nested_bundles"])
    main_profile = profiles.get(app_dir + "embedded.mobileprovision") or {}
    assert app.metadata["entitlements"].get("application-identifier") == main_profile.get("appid")
    assert app.metadata["entitlements"].get("get-task-allow") == main_profile.get("get_task_allow")
    assert app.metadata["required_capabilities"] in (["arm64"], ["armv7"])


def test_capabilities_usage_descriptions_url_schemes_and_extensions(tmp_path):
    plist = info(
        UIRequiredDeviceCapabilities={"arm64": True, "nfc": True, "gps": False},
        NSCameraUsageDescription="Scan codes", NSLocationWhenInUseUsageDescription="Maps",
        NSNotAUsage="no", CFBundleURLTypes=[{"CFBundleURLSchemes": ["demo", "demo-auth"]}, "odd",
                                            {"CFBundleURLSchemes": ["demo"]}],
    )
    members = {"Payload/My App.app/PlugIns/Broken.appex/Info.plist": b"not a plist"}
    metadata = parse_ipa(make_ipa(tmp_path / "app.ipa", plist, members=members)).metadata
    assert metadata["required_capabilities"] == ["arm64", "nfc"]
    assert metadata["usage_descriptions"] == ["NSCameraUsageDescription", "NSLocationWhenInUseUsageDescription"]
    assert metadata["url_schemes"] == ["demo", "demo-auth"]
    assert metadata["app_extensions"] == ["com.example.synthetic.share"]
    assert metadata["entitlements"] == {}


def test_profile_entitlements_keep_json_values_only(tmp_path):
    entitlements = {"get-task-allow": True, "aps-environment": "development", "blob": b"\x00",
                    "when": datetime(2030, 1, 1)}
    profile = ber_chunked_profile(profile_plist(Entitlements=entitlements))
    members = {"Payload/My App.app/embedded.mobileprovision": profile}
    metadata = parse_ipa(make_ipa(tmp_path / "app.ipa", info(), members=members)).metadata
    assert metadata["entitlements"] == {"get-task-allow": True, "aps-environment": "development"}
