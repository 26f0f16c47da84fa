"""Image sniffing and sizes for app icons, and Apple's CgBI ("crushed") PNG to standard PNG."""
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 4096


def image_type(data):
    """"png", "webp" or None, from the magic bytes."""
    if data[:8] == PNG_SIGNATURE:
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_cgbi(data):
    return data[:8] == PNG_SIGNATURE and data[12:16] == b"CgBI"


def _chunks(data):
    """(type, body) of each PNG chunk until IEND or the end of the data."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise ValueError("truncated PNG chunk")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length


def png_size(data):
    """(width, height) from IHDR; works on CgBI too, where IHDR is not the first chunk."""
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG")
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            if len(body) < 8:
                break
            return struct.unpack(">II", body[:8])
    raise ValueError("PNG has no IHDR chunk")


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(left, up, up_left):
    estimate = left + up - up_left
    to_left, to_up, to_up_left = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if to_left <= to_up and to_left <= to_up_left:
        return left
    return up if to_up <= to_up_left else up_left


def _unfilter(raw, width, height, bpp):
    """Undo the per-row PNG filters of a non-interlaced image; returns the bare pixel bytes."""
    stride = width * bpp
    pixels = bytearray(height * stride)
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:
            row = bytearray((a + b) & 0xFF for a, b in zip(row, previous))
        elif kind == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left, up_left = (row[i - bpp], previous[i - bpp]) if i >= bpp else (0, 0)
                row[i] = (row[i] + _paeth(left, previous[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"unknown PNG filter type {kind}")
        pixels[y * stride:(y + 1) * stride] = row
        previous = row
    return pixels


def _uncrush_pixels(pixels, bpp):
    """BGR(A) to RGB(A), then undo the alpha premultiplication."""
    pixels[0::bpp], pixels[2::bpp] = pixels[2::bpp], pixels[0::bpp]
    if bpp == 4:
        for i in range(3, len(pixels), 4):
            alpha = pixels[i]
            if 0 < alpha < 255:
                for j in range(i - 3, i):
                    pixels[j] = min(255, (pixels[j] * 255 + alpha // 2) // alpha)


def cgbi_to_png(data):
    """A standard PNG from a CgBI one; other data is returned unchanged. Raises ValueError on bad input."""
    if not is_cgbi(data):
        return data
    header, compressed, kept = None, bytearray(), []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        elif kind not in (b"CgBI", b"iDOT", b"IEND"):
            kept.append((kind, body))
    if header is None or len(header) != 13:
        raise ValueError("CgBI PNG has no valid IHDR chunk")
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"PNG is {width}x{height}, larger than {MAX_SIDE}x{MAX_SIDE}")
    # 8 bytes per pixel (16-bit RGBA) plus a filter byte per row and pass bounds every PNG.
    limit = height * (width * 8 + 8)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(bytes(compressed), limit)
    except zlib.error as exc:
        raise ValueError(f"CgBI image data does not inflate: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValueError("CgBI image data inflates to more than its size allows")
    if depth == 8 and color_type in (2, 6) and interlace == 0:
        bpp = 4 if color_type == 6 else 3
        if len(raw) != height * (width * bpp + 1):
            raise ValueError("CgBI image data has the wrong length")
        pixels = _unfilter(raw, width, height, bpp)
        _uncrush_pixels(pixels, bpp)
        stride = width * bpp
        raw = b"".join(b"\x00" + pixels[y * stride:(y + 1) * stride] for y in range(height))
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + b"".join(_chunk(kind, body) for kind, body in kept)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + _chunk(b"IEND", b""))
