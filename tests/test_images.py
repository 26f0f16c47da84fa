"""Image sniffing, PNG sizes, and CgBI conversion checked against pixels we crushed ourselves."""
import struct
import zlib

import pytest

from fenfa_lib.packages.images import cgbi_to_png, image_type, is_cgbi, png_size

from corpus import png_pixels
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
