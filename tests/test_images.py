"""Image sniffing, PNG sizes, and CgBI conversion checked against pixels we crushed ourselves."""
import io
import random
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image

from fenfa_lib.packages import parse_package
from fenfa_lib.packages.appinfo import PackageError
from fenfa_lib.packages.images import cgbi_to_png, image_type, is_cgbi, png_size, verified_image

from corpus import SAMPLES_DIR, png_pixels, sample_names
from helpers import CGBI_CHUNK_BODY, chunk, make_cgbi, make_png, sample_pixels


def test_cgbi_conversion_restores_the_original_rgba_pixels():
    width, height = 23, 17
    original = sample_pixels(width, height)
    crushed = make_cgbi(width, height, original)
    assert is_cgbi(crushed)

    converted = cgbi_to_png(crushed)

    assert not is_cgbi(converted)
    got_width, got_height, bpp, pixels = png_pixels(converted)
    assert (got_width, got_height, bpp) == (width, height, 4)
    for i in range(0, len(original), 4):
        assert pixels[i + 3] == original[i + 3]
        if original[i + 3]:
            for channel in range(3):
                assert abs(pixels[i + channel] - original[i + channel]) <= 1, (i, channel)


def test_cgbi_without_alpha_only_swaps_blue_and_red():
    width, height = 9, 6
    original = sample_pixels(width, height)
    _, _, bpp, pixels = png_pixels(cgbi_to_png(make_cgbi(width, height, original, color_type=2)))
    assert bpp == 3
    assert pixels == bytes(value for i in range(0, len(original), 4) for value in original[i:i + 3])


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
def test_each_filter_type_alone_is_undone(filter_type):
    original = sample_pixels(8, 8)
    _, _, _, pixels = png_pixels(cgbi_to_png(make_cgbi(8, 8, original, filter_types=(filter_type,))))
    assert pixels[3::4] == original[3::4]


def test_png_size_reads_ihdr_of_plain_and_cgbi_files():
    assert png_size(make_png(31, 7)) == (31, 7)
    assert png_size(make_cgbi(12, 5, sample_pixels(12, 5))) == (12, 5)


def test_plain_png_passes_through_unchanged():
    png = make_png(4, 4)
    assert cgbi_to_png(png) == png
    assert not is_cgbi(png)


@pytest.mark.parametrize("side", [(5000, 10), (10, 4097)])
def test_absurd_dimensions_are_rejected_before_inflating(side):
    width, height = side
    crushed = make_cgbi(2, 2, sample_pixels(2, 2))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    crushed = crushed.replace(chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 6, 0, 0, 0)), chunk(b"IHDR", header))
    with pytest.raises(ValueError, match="larger than"):
        cgbi_to_png(crushed)


def test_image_data_inflating_past_the_declared_size_is_rejected():
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(bytes(10 * 1024 * 1024)) + deflater.flush()
    header = struct.pack(">IIBBBBB", 4, 4, 8, 6, 0, 0, 0)
    crushed = (b"\x89PNG\r\n\x1a\n" + chunk(b"CgBI", CGBI_CHUNK_BODY) + chunk(b"IHDR", header)
               + chunk(b"IDAT", bomb) + chunk(b"IEND", b""))
    with pytest.raises(ValueError, match="more than"):
        cgbi_to_png(crushed)


@pytest.mark.parametrize("damage", ["garbage-idat", "no-ihdr", "truncated", "wrong-length"])
def test_broken_cgbi_raises_value_error(damage):
    good = make_cgbi(6, 6, sample_pixels(6, 6))
    broken = {
        "garbage-idat": good.replace(good[good.index(b"IDAT") + 4:good.index(b"IDAT") + 20], b"\xff" * 16),
        "no-ihdr": good.replace(b"IHDR", b"IHDX"),
        "truncated": good[:40],
        "wrong-length": good.replace(
            chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 6, 8, 6, 0, 0, 0)),
            chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 7, 8, 6, 0, 0, 0))),
    }[damage]
    with pytest.raises(ValueError):
        cgbi_to_png(broken)


def webp(kind, payload):
    body = b"WEBP" + kind + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_image_type_by_magic_bytes():
    assert image_type(make_png(1, 1)) == "png"
    assert image_type(webp(b"VP8L", bytes(10))) == "webp"
    assert image_type(b"GIF89a......") is None
    assert image_type(b"") is None


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_png_size_of_non_png_data_raises_value_error(data):
    with pytest.raises(ValueError):
        png_size(data)


def two_header_cgbi(side=4096):
    """A CgBI whose first IHDR says 1x1 and whose last says side x side, with image data for the latter."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflater.compress((b"\x00" + bytes(side * 4)) * side) + deflater.flush()
    small, large = (struct.pack(">IIBBBBB", n, n, 8, 6, 0, 0, 0) for n in (1, side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"CgBI", CGBI_CHUNK_BODY) + chunk(b"IHDR", small) + chunk(b"IDAT", data)
            + chunk(b"IHDR", large) + chunk(b"IEND", b""))


def test_a_second_ihdr_is_refused_before_decoding():
    crushed = two_header_cgbi()
    assert png_size(crushed[:64]) == (1, 1)
    started = time.monotonic()
    with pytest.raises(ValueError, match="exactly one valid IHDR"):
        cgbi_to_png(crushed)
    assert time.monotonic() - started < 2


def test_ihdr_must_come_first():
    png = make_png(4, 4)
    late = png[:8] + chunk(b"tEXt", b"a\x00b") + png[8:]
    with pytest.raises(ValueError, match="start with IHDR"):
        png_size(late)
    assert verified_image(late) is None


def test_cgbi_over_the_decoded_area_is_refused():
    with pytest.raises(ValueError, match="more than"):
        cgbi_to_png(make_cgbi(40, 30, sample_pixels(40, 30)), max_area=1000)


def damaged_png(damage):
    good = make_png(6, 5)
    idat = good.index(b"IDAT")
    body_length = struct.unpack(">I", good[idat - 4:idat])[0]
    header = struct.pack(">IIBBBBB", 6, 5, 8, 6, 0, 0, 0)
    raw = bytearray(b"".join(b"\x00" + bytes(24) for _ in range(5)))
    if damage == "bad-crc":
        return good[:idat + 6] + bytes([good[idat + 6] ^ 1]) + good[idat + 7:]
    if damage == "short-data":
        return good.replace(good[idat - 4:idat + 8 + body_length], chunk(b"IDAT", zlib.compress(bytes(raw[:-1]))))
    if damage == "long-data":
        return good.replace(good[idat - 4:idat + 8 + body_length], chunk(b"IDAT", zlib.compress(bytes(raw) + b"\0")))
    if damage == "bad-filter":
        raw[25] = 9
        return good.replace(good[idat - 4:idat + 8 + body_length], chunk(b"IDAT", zlib.compress(bytes(raw))))
    if damage == "no-iend":
        return good[:-12]
    if damage == "two-ihdr":
        return good[:-12] + chunk(b"IHDR", header) + good[-12:]
    if damage == "bad-depth":
        return good.replace(chunk(b"IHDR", header), chunk(b"IHDR", header[:8] + b"\x07" + header[9:]))
    return good.replace(chunk(b"IHDR", header), chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 5, 8, 3, 0, 0, 0)))


@pytest.mark.parametrize("damage", ["bad-crc", "short-data", "long-data", "bad-filter", "no-iend", "two-ihdr",
                                    "bad-depth", "no-palette"])
def test_damaged_pngs_do_not_verify(damage):
    assert verified_image(damaged_png(damage)) is None


def test_valid_pngs_and_webps_verify():
    assert verified_image(make_png(7, 3)) == "png"
    assert verified_image(cgbi_to_png(make_cgbi(9, 4, sample_pixels(9, 4)))) == "png"
    lossless = io.BytesIO()
    Image.new("RGBA", (5, 4), (10, 20, 30, 128)).save(lossless, "WEBP", lossless=True)
    assert verified_image(lossless.getvalue()) == "webp"
    lossy = io.BytesIO()
    Image.new("RGBA", (5, 4), (10, 20, 30, 128)).save(lossy, "WEBP", quality=50)
    assert verified_image(lossy.getvalue()) == "webp"


@pytest.mark.parametrize("data", [webp(b"VP8L", bytes(10)), webp(b"VP8L", b"\x2f" + bytes(9))[:-3],
                                  webp(b"VP8 ", bytes(10)), webp(b"JUNK", bytes(10))])
def test_webps_with_broken_containers_do_not_verify(data):
    assert verified_image(data) is None


def mutated(data, generator):
    """data with a few bytes changed, a piece cut out or repeated, or its end cut off. For WebP only the
    container (RIFF header and first chunk headers) is touched, as its bitstreams are not decoded at runtime."""
    data = bytearray(data)
    if not data:
        return b"\x89PNG"
    end = 34 if data[:4] == b"RIFF" else len(data)
    kind = generator.randrange(4)
    if kind == 0:
        for _ in range(generator.randint(1, 6)):
            data[generator.randrange(min(end, len(data)))] = generator.randrange(256)
    elif kind == 1:
        start = generator.randrange(min(end, len(data)))
        del data[start:start + generator.randint(1, 16)]
    elif kind == 2:
        start = generator.randrange(min(end, len(data)))
        data[start:start] = data[start:start + generator.randint(1, 16)]
    else:
        del data[generator.randrange(len(data)):]
    return bytes(data)


def test_every_icon_kept_from_mutated_corpus_packages_opens_in_pillow(tmp_path):
    names = sample_names("*.ipa") + sample_names("*.apk") + sample_names("*.aab")
    generator, kept, slowest, originals = random.Random(20240611), 0, 0.0, {}
    for name in names:
        with zipfile.ZipFile(SAMPLES_DIR / name) as archive:
            originals[name] = {info.filename: archive.read(info) for info in archive.infolist()}
    for round_number in range(300):
        name = generator.choice(names)
        members = dict(originals[name])
        images = [member for member in members if member.lower().endswith((".png", ".webp"))]
        tables = [member for member in members if member.endswith(("resources.arsc", "resources.pb", ".xml"))]
        pool = images if images and generator.random() < 0.7 else tables or list(members)
        for member in generator.sample(pool, min(len(pool), generator.randint(1, 8))):
            members[member] = mutated(members[member], generator)
        path = tmp_path / f"mutated{round_number % 2}{name[name.rindex('.'):]}"
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        started = time.monotonic()
        try:
            app = parse_package(path, name)
        except PackageError:
            continue
        slowest = max(slowest, time.monotonic() - started)
        if app.icon:
            kept += 1
            Image.open(io.BytesIO(app.icon)).load()  # raises for an icon a decoder cannot read
    assert kept > 50, "too few mutated packages kept an icon for the test to mean anything"
    assert slowest < 2
