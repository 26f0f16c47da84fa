"""Image sniffing, sizes and verification for app icons, and Apple's CgBI ("crushed") PNG to standard PNG."""
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 4096
MAX_VERIFY_AREA = MAX_SIDE * MAX_SIDE  # a PNG is inflated (in C, in pieces) to check its image data
MAX_DECODE_AREA = 1024 * 1024  # CgBI pixels are unfiltered in Python, at about a second per megapixel
INFLATE_PIECE = 1 << 20
# IHDR colour type: (channels, allowed bit depths).
COLOR_TYPES = {0: (1, (1, 2, 4, 8, 16)), 2: (3, (8, 16)), 3: (1, (1, 2, 4, 8)), 4: (2, (8, 16)), 6: (4, (8, 16))}
# Adam7 passes: (x start, y start, x step, y step).
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
WEBP_MAX_SIDE = 16384


def image_type(data):
    """"png", "webp" or None, from the magic bytes."""
    if data[:8] == PNG_SIGNATURE:
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_cgbi(data):
    return data[:8] == PNG_SIGNATURE and data[12:16] == b"CgBI"


def _chunks(data, check_crc=False):
    """(type, body) of each PNG chunk until IEND or the end of the data; with check_crc, a chunk whose CRC is
    wrong or missing raises ValueError."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise ValueError("truncated PNG chunk")
        if check_crc and data[pos + 8 + length:pos + 12 + length] != struct.pack(">I", zlib.crc32(kind + body)):
            raise ValueError(f"PNG chunk {kind!r} has a bad CRC")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length


def png_size(data):
    """(width, height) from IHDR, which must be the first chunk (the second, after CgBI, in a CgBI file); reads
    no further, so works on the first bytes of a file. Later IHDRs are refused by cgbi_to_png and verify_png."""
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG")
    for index, (kind, body) in enumerate(_chunks(data)):
        if kind == b"IHDR":
            if len(body) < 8:
                break
            return struct.unpack(">II", body[:8])
        if kind != b"CgBI" or index:
            raise ValueError("PNG does not start with IHDR")
    raise ValueError("PNG has no IHDR chunk")


def _header(chunks, max_area):
    """The one IHDR's (width, height, depth, colour type, interlace), checked: it must come first (after CgBI),
    be the only one, hold a valid format and cover at most max_area pixels."""
    headers = [index for index, (kind, _) in enumerate(chunks) if kind == b"IHDR"]
    first = 1 if chunks and chunks[0][0] == b"CgBI" else 0
    if headers != [first] or len(chunks[first][1]) != 13:
        raise ValueError("PNG needs exactly one valid IHDR, as its first chunk")
    width, height, depth, color_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[first][1])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"PNG is {width}x{height}, larger than {MAX_SIDE}x{MAX_SIDE}")
    if width * height > max_area:
        raise ValueError(f"PNG is {width}x{height}, more than {max_area} pixels")
    if depth not in COLOR_TYPES.get(color_type, (0, ()))[1] or compression or filtering or interlace > 1:
        raise ValueError("PNG has an invalid IHDR")
    return width, height, depth, color_type, interlace


def _row_sizes(width, height, depth, color_type, interlace):
    """The byte length (filter byte included) of each scanline of the image data, in order."""
    bits = COLOR_TYPES[color_type][0] * depth
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    sizes = []
    for x0, y0, dx, dy in passes:
        pass_width, pass_height = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if pass_width and pass_height:
            sizes += [1 + (pass_width * bits + 7) // 8] * pass_height
    return sizes


def verify_png(data, max_area=MAX_VERIFY_AREA):
    """Raise ValueError unless data is a standard PNG a decoder can read: chunk CRCs, one leading IHDR with a
    valid format and at most max_area pixels, a palette where one is needed, contiguous IDATs whose zlib stream
    inflates to exactly the size the IHDR implies with valid row filter types, and IEND. Memory stays bounded:
    the image data is inflated in pieces and dropped."""
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG")
    chunks = list(_chunks(data, check_crc=True))
    kinds = [kind for kind, _ in chunks]
    width, height, depth, color_type, interlace = _header(chunks, max_area)
    if kinds[-1] != b"IEND" or kinds[0] != b"IHDR":
        raise ValueError("PNG has no IEND chunk or is crushed")
    palettes = [body for kind, body in chunks if kind == b"PLTE"]
    if len(palettes) > 1 or (color_type == 3 and not palettes) or (color_type in (0, 4) and palettes) or any(
            not 0 < len(body) <= 768 or len(body) % 3 for body in palettes):
        raise ValueError("PNG has an invalid palette")
    idats = [index for index, kind in enumerate(kinds) if kind == b"IDAT"]
    if not idats or idats != list(range(idats[0], idats[0] + len(idats))):
        raise ValueError("PNG image data is missing or not contiguous")
    _inflate_rows(b"".join(chunks[index][1] for index in idats), _row_sizes(width, height, depth, color_type,
                                                                            interlace))


def _inflate_rows(compressed, rows):
    """Check a zlib stream inflates to exactly sum(rows) bytes, each row starting with a filter type 0-4."""
    inflater, expected, produced, row, row_start = zlib.decompressobj(), sum(rows), 0, 0, 0
    pending = compressed
    try:
        while not inflater.eof and produced <= expected:
            piece = inflater.decompress(pending, INFLATE_PIECE)
            pending = inflater.unconsumed_tail
            if not piece and not pending:
                break
            while row < len(rows) and row_start < produced + len(piece):
                if piece[row_start - produced] > 4:
                    raise ValueError("PNG row has an unknown filter type")
                row_start, row = row_start + rows[row], row + 1
            produced += len(piece)
    except zlib.error as exc:
        raise ValueError(f"PNG image data does not inflate: {exc}") from exc
    if not inflater.eof or produced != expected:
        raise ValueError("PNG image data does not inflate to the size its IHDR implies")


def verify_webp(data):
    """Raise ValueError unless data is a WebP whose container holds together: the RIFF size, chunk bounds, and
    the headers of the VP8X, ALPH, VP8 and VP8L chunks. The compressed bitstreams themselves are not decoded."""
    if image_type(data) != "webp":
        raise ValueError("not a WebP")
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size < 12 or riff_size % 2 or riff_size + 8 > len(data):
        raise ValueError("WebP RIFF size does not match the file")
    chunks, position, end = {}, 12, riff_size + 8
    while position < end:
        if position + 8 > end:
            raise ValueError("truncated WebP chunk")
        kind, size = struct.unpack("<4sI", data[position:position + 8])
        if position + 8 + size > end:
            raise ValueError(f"WebP chunk {kind!r} runs past the RIFF size")
        chunks.setdefault(kind, data[position + 8:position + 8 + size])
        position += 8 + size + (size & 1)
    first = data[12:16]
    if first == b"VP8X":
        _webp_extended(chunks)
    elif first == b"VP8 ":
        _vp8_size(chunks[first])
    elif first == b"VP8L":
        _vp8l_size(chunks[first])
    else:
        raise ValueError("WebP has no image chunk")


def _webp_extended(chunks):
    header = chunks[b"VP8X"]
    if len(header) < 10:
        raise ValueError("WebP VP8X chunk is truncated")
    canvas = (int.from_bytes(header[4:7], "little") + 1, int.from_bytes(header[7:10], "little") + 1)
    if header[0] & 0x02:  # animated: frames are checked by the decoder
        return
    if b"VP8 " in chunks:
        size = _vp8_size(chunks[b"VP8 "])
        alpha = chunks.get(b"ALPH")
        if alpha is not None and (not alpha or alpha[0] >> 6 or alpha[0] & 0x03 > 1
                                  or (alpha[0] & 0x03 == 0 and len(alpha) < 1 + size[0] * size[1])):
            raise ValueError("WebP ALPH chunk is invalid")
    elif b"VP8L" in chunks:
        size = _vp8l_size(chunks[b"VP8L"])
    else:
        raise ValueError("WebP has no image chunk")
    if size != canvas:
        raise ValueError("WebP image size differs from its canvas")


def _vp8_size(frame):
    """(width, height) of a VP8 key frame, checking its frame tag, start code and first partition size."""
    if len(frame) < 10 or frame[3:6] != b"\x9d\x01\x2a":
        raise ValueError("WebP VP8 frame header is invalid")
    tag = int.from_bytes(frame[:3], "little")
    if tag & 1 or (tag >> 1) & 7 > 3 or not tag & 0x10 or (tag >> 5) > len(frame) - 10:
        raise ValueError("WebP VP8 frame tag is invalid")
    width, height = (value & 0x3FFF for value in struct.unpack("<HH", frame[6:10]))
    if not (width and height):
        raise ValueError("WebP VP8 frame is empty")
    return width, height


def _vp8l_size(stream):
    """(width, height) of a VP8L image, checking its signature and version."""
    if len(stream) < 5 or stream[0] != 0x2F:
        raise ValueError("WebP VP8L header is invalid")
    bits = int.from_bytes(stream[1:5], "little")
    if bits >> 29:
        raise ValueError("WebP VP8L version is unknown")
    return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1


def verified_image(data, max_area=MAX_VERIFY_AREA):
    """"png" or "webp" when data is an image that verifies (see verify_png and verify_webp), else None."""
    kind = image_type(data)
    try:
        if kind == "png":
            verify_png(data, max_area)
        elif kind == "webp":
            verify_webp(data)
    except (ValueError, struct.error):
        return None
    return kind


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


def cgbi_to_png(data, max_area=MAX_DECODE_AREA):
    """A standard PNG from a CgBI one of at most max_area pixels; other data is returned unchanged. Raises
    ValueError on bad input, and on a file with more than one IHDR or an IHDR that is not first."""
    if not is_cgbi(data):
        return data
    chunks = list(_chunks(data))
    if not any(kind == b"IHDR" for kind, _ in chunks):
        raise ValueError("CgBI PNG has no valid IHDR chunk")
    width, height, depth, color_type, interlace = _header(chunks, max_area)
    header, compressed = chunks[1][1], b"".join(body for kind, body in chunks if kind == b"IDAT")
    kept = [(kind, body) for kind, body in chunks if kind not in (b"CgBI", b"IHDR", b"IDAT", b"iDOT", b"IEND")]
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
