"""Desktop parsers on damaged and hostile files: truncations, flipped bytes, oversized and bomb members, deep
XML. Each parse ends in an AppInfo or a PackageError, within seconds and bounded memory."""
import gzip
import io
import signal
import struct
import tracemalloc
import zipfile
import zlib

import pytest
from test_desktop_packages import control_tar, make_deb

from fenfa_lib.packages import parse_package
from fenfa_lib.packages.appinfo import AppInfo, PackageError
from fenfa_lib.packages.icns import icns_to_png

from corpus import require_samples, sample_names
from helpers import make_png

PARSED = [name for name in sample_names("desktop/*") if not name.endswith((".md", ".json", ".dmg"))]
MIB = 1024 * 1024


class Hung(Exception):
    pass


def bounded_parse(path, file_name, seconds=10, peak_mib=None):
    """parse_package's AppInfo, or the PackageError it raised; fails the test past `seconds` or, with
    `peak_mib`, when Python allocations peak above it (tracing them slows parsing down several times)."""
    def give_up(signum, frame):
        raise Hung(f"parsing {file_name} took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    if peak_mib:
        tracemalloc.start()
    try:
        return parse_package(path, file_name)
    except PackageError as error:
        return error
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if peak_mib:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert peak < peak_mib * MIB, f"{file_name}: {peak / MIB:.0f} MiB of Python allocations"


@pytest.mark.parametrize("name", PARSED)
def test_truncated_and_flipped_samples_only_ever_give_app_info_or_package_error(tmp_path, name):
    sample = require_samples() / name
    good = sample.read_bytes()
    expected = parse_package(sample, sample.name)
    damaged_path = tmp_path / sample.name
    results = []
    step = max(1, len(good) // 40)
    for cut in range(0, len(good), step):
        for damaged in (good[:cut], good[:cut] + bytes(b ^ 0x5A for b in good[cut:cut + 7]) + good[cut + 7:]):
            damaged_path.write_bytes(damaged)
            result = bounded_parse(damaged_path, sample.name)
            assert isinstance(result, (AppInfo, PackageError)), result
            results.append(result)
    assert any(isinstance(result, AppInfo) and result == expected for result in results), \
        "no flipped byte was harmless: the damage never reached past the metadata"


def test_deb_control_bomb_is_refused_within_its_bound(tmp_path):
    bomb = gzip.compress(b"\0" * (64 * MIB), compresslevel=1)
    result = bounded_parse(make_deb(tmp_path / "bomb.deb", bomb), "bomb.deb", peak_mib=48)
    assert isinstance(result, PackageError) and "unpacks to more than 16 MiB" in str(result)


def test_deb_member_larger_than_the_control_bound_is_refused_unread(tmp_path):
    path = tmp_path / "big.deb"
    header = f"{'control.tar.gz':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{64 * MIB:<10}`\n".encode()
    path.write_bytes(b"!<arch>\n" + header + b"\0" * 100)
    result = bounded_parse(path, "big.deb", peak_mib=8)
    assert isinstance(result, PackageError) and "larger than 16 MiB" in str(result)


def test_deb_with_more_members_than_the_bound_says_nothing(tmp_path):
    member = f"{'junk':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{0:<10}`\n".encode()
    path = tmp_path / "many.deb"
    path.write_bytes(b"!<arch>\n" + member * 100_000 + control_tar(b"Package: late\nVersion: 1\n"))
    assert bounded_parse(path, "many.deb") == AppInfo()


def rpm_with_header(index_count, store_size, index=b"", store=b""):
    lead = b"\xed\xab\xee\xdb" + b"\0" * 92
    empty_signature = b"\x8e\xad\xe8\x01" + b"\0" * 4 + struct.pack(">II", 0, 0)
    header = b"\x8e\xad\xe8\x01" + b"\0" * 4 + struct.pack(">II", index_count, store_size)
    return lead + empty_signature + header + index + store


@pytest.mark.parametrize(("content", "outcome"), [
    (rpm_with_header(0xFFFF_FFFF, 16), "larger than rpm allows"),
    (rpm_with_header(16, 0xFFFF_FFFF), "larger than rpm allows"),
    (rpm_with_header(0xFFFF, 16), "cut short"),
    (rpm_with_header(1, 8, struct.pack(">iiii", 1000, 6, 0, 1), b"unending"), "not a terminated string"),
    (rpm_with_header(1, 8, struct.pack(">iiii", 1000, 6, 1 << 30, 1), b"name\0\0\0\0"), "has no Name"),
    (b"\xed\xab\xee\xdb" + b"\0" * 200, None),
])
def test_hostile_rpm_headers(tmp_path, content, outcome):
    path = tmp_path / "hostile.rpm"
    path.write_bytes(content)
    result = bounded_parse(path, "hostile.rpm", peak_mib=8)
    if outcome is None:
        assert result == AppInfo()
    else:
        assert isinstance(result, PackageError) and outcome in str(result), result


def make_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                     for n in range(1, 10))
          + b']><Package><Identity Name="&lol9;" Version="1.0.0.0"/></Package>')


@pytest.mark.parametrize(("members", "message"), [
    ({"AppxManifest.xml": b"\0" * (8 * MIB)}, "larger than 4 MiB"),
    ({"AppxManifest.xml": LAUGHS}, "not valid XML"),
    ({"AppxManifest.xml": b"<a>" * 100_000}, "not valid XML"),
    ({"AppxManifest.xml": b"<Package><Properties/></Package>"}, "no Package Identity"),
    ({"other.txt": b"x"}, "AppxManifest.xml is missing"),
])
def test_hostile_msix_manifests_are_refused(tmp_path, members, message):
    result = bounded_parse(make_zip(tmp_path / "app.msix", members), "app.msix", peak_mib=48)
    assert isinstance(result, PackageError) and message in str(result), result


def test_macos_zip_plist_bomb_is_refused(tmp_path):
    path = make_zip(tmp_path / "app.zip", {"Big.app/Contents/Info.plist": b"\0" * (16 * MIB)})
    result = bounded_parse(path, "app.zip", peak_mib=48)
    assert isinstance(result, PackageError) and "larger than 8 MiB" in str(result)


@pytest.mark.parametrize("members", [
    {"a.txt": b"x"},
    {"One.app/Contents/Info.plist": b"x", "Two.app/Contents/Info.plist": b"x"},
    {"__MACOSX/One.app/Contents/Info.plist": b"x"},
])
def test_zip_without_exactly_one_app_says_nothing(tmp_path, members):
    assert bounded_parse(make_zip(tmp_path / "app.zip", members), "app.zip") == AppInfo()


def icns(*entries):
    body = b"".join(kind + struct.pack(">I", len(data) + 8) + data for kind, data in entries)
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def huge_png_header(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize(("data", "converts"), [
    (icns((b"ic07", make_png(128, 128))), True),
    (icns((b"ic07", make_png(128, 128)), (b"ic10", huge_png_header(30000, 30000))), False),
    (icns((b"ic07", b"\x89PNG\r\n\x1a\n broken")), False),
    (b"icns" + struct.pack(">I", 1 << 30) + b"ic07" + struct.pack(">I", 1 << 30), False),
    (b"not an icns", False),
])
def test_icns_conversion_refuses_oversized_and_broken_entries(data, converts):
    png = icns_to_png(data)
    assert (png is not None) == converts
    if converts:
        assert png.startswith(b"\x89PNG")


def xar(toc, heap=b""):
    compressed = zlib.compress(toc)
    return struct.pack(">4sHHQQI", b"xar!", 28, 1, len(compressed), len(toc), 0) + compressed + heap


def xar_file(name, offset, length, encoding="application/x-gzip"):
    return (f"<file><name>{name}</name><data><offset>{offset}</offset><length>{length}</length>"
            f'<encoding style="{encoding}"/></data></file>').encode()


@pytest.mark.parametrize(("content", "outcome"), [
    (xar(b"<xar><toc>" + xar_file("Distribution", 0, 70_000) + b"</toc></xar>",
         zlib.compress(b"\0" * (64 * MIB))[:70_000]), "larger than 4 MiB"),
    (xar(b"<xar><toc>" + xar_file("Distribution", 0, 5) + b"</toc></xar>", b"nozlb"), "cannot be decompressed"),
    (xar(b"<xar><toc>" + xar_file("PackageInfo", 99, 10, "application/octet-stream") + b"</toc></xar>"),
     "not valid XML"),
    (xar(b"<xar><toc>" + xar_file("Distribution", "x", "y") + b"</toc></xar>"), "larger than 4 MiB"),
    (xar(b"<xar><toc><file><name>Payload</name></file></toc></xar>"), None),
    (xar(b"not xml"), None),
    (b"xar!" + b"\xff" * 40, None),
])
def test_hostile_xar_archives(tmp_path, content, outcome):
    path = tmp_path / "hostile.pkg"
    path.write_bytes(content)
    result = bounded_parse(path, "hostile.pkg", peak_mib=48)
    if outcome is None:
        assert result == AppInfo()
    else:
        assert isinstance(result, PackageError) and outcome in str(result), result


@pytest.mark.parametrize("content", [
    b"\x7fELF", b"\x7fELF" + b"\x02\x09" + b"\0" * 14, b"\x7fELF\x02\x01\x01\0AI\x07" + b"\0" * 9 + b"\xff\xff",
])
def test_odd_elf_headers_say_what_they_can(tmp_path, content):
    path = tmp_path / "odd.AppImage"
    path.write_bytes(content)
    result = bounded_parse(path, "odd.AppImage")
    assert isinstance(result, AppInfo) and "appimage_type" not in result.metadata


@pytest.mark.parametrize(("file_name", "content"), [
    ("setup.exe", b"MZ" + b"\xff" * 200),
    ("setup.msi", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
    ("setup.msi", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 4000),
])
def test_unreadable_windows_files_say_nothing(tmp_path, file_name, content):
    path = tmp_path / file_name
    path.write_bytes(content)
    assert bounded_parse(path, file_name) == AppInfo()


def test_deb_xz_with_a_bad_stream_is_refused(tmp_path):
    path = make_deb(tmp_path / "bad.deb", io.BytesIO(b"\xfd7zXZ\0broken").getvalue(), "control.tar.xz")
    result = bounded_parse(path, "bad.deb")
    assert isinstance(result, PackageError) and "control.tar.xz cannot be read" in str(result)
