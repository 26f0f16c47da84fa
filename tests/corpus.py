"""The corpus of real app packages the repo carries in tests/samples (with SOURCES.md), its
expected metadata, and icon checks."""
import json
import os
import struct
import zlib
from pathlib import Path

import pytest

# Read at import: the conftest removes every FENFA_* variable before each test runs.
SAMPLES_DIR = Path(os.environ.get("FENFA_SAMPLES") or Path(__file__).resolve().parent / "samples")


def skip_or_fail(message):
    """End the test for a missing tool: a failure on CI (CI=true), where everything must be installed,
    a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_samples():
    """The corpus directory; a missing corpus fails the test everywhere."""
    if not (SAMPLES_DIR / "expected-metadata.json").is_file():
        pytest.fail(f"sample corpus not found at {SAMPLES_DIR} (FENFA_SAMPLES overrides tests/samples)")
    return SAMPLES_DIR


def expected():
    return json.loads((require_samples() / "expected-metadata.json").read_text("utf-8"))


def sample_names(pattern):
    """Corpus files matching a glob, relative to the corpus. An empty list fails at collection
    (pytest.ini sets empty_parameter_set_mark), so a missing corpus never passes silently."""
    return sorted(path.relative_to(SAMPLES_DIR).as_posix() for path in SAMPLES_DIR.glob(pattern))


def sample(name):
    """(path, expected metadata) of a corpus file."""
    return require_samples() / name, expected()[name]


def png_pixels(data):
    """(width, height, bytes per pixel, unfiltered pixel bytes) of an 8-bit non-interlaced PNG, checking its
    signature, chunk order and CRCs; written independently of fenfa_lib.packages.images."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind}"
        chunks.append((kind, body))
        position += 12 + length
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"CgBI" not in kinds
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    if depth != 8 or interlace or color_type not in (0, 2, 4, 6):
        return width, height, None, raw
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    return width, height, bpp, unfilter(raw, width, height, bpp)


def png_predictor(kind, left, up, up_left):
    """What PNG filter type `kind` predicts for a byte from its left, upper and upper-left neighbours."""
    if kind == 4:
        estimate = left + up - up_left
        distances = [abs(estimate - left), abs(estimate - up), abs(estimate - up_left)]
        return (left, up, up_left)[distances.index(min(distances))]
    return [0, left, up, (left + up) // 2][kind]


def unfilter(raw, width, height, bpp):
    stride, rows, previous = width * bpp, [], bytearray(width * bpp)
    assert len(raw) == height * (stride + 1)
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left, up_left = (row[i - bpp], previous[i - bpp]) if i >= bpp else (0, 0)
            row[i] = (row[i] + png_predictor(kind, left, previous[i], up_left)) & 0xFF
        rows.append(bytes(row))
        previous = row
    return b"".join(rows)


def icon_size(data):
    """(width, height) of a valid PNG or WebP icon; fails the test on anything else."""
    if data[:4] == b"RIFF":
        assert data[8:12] == b"WEBP" and struct.unpack("<I", data[4:8])[0] + 8 == len(data)
        kind = data[12:16]
        if kind == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if kind == b"VP8L":
            bits = struct.unpack("<I", data[21:25])[0]
            return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
        assert kind == b"VP8X", kind
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    width, height, _, _ = png_pixels(data)
    return width, height


def ihdr_size(data):
    """(width, height) from the IHDR of a PNG or CgBI file, found by search rather than chunk walking."""
    start = data.index(b"IHDR") + 4
    return struct.unpack(">II", data[start:start + 8])
