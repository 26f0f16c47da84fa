"""Apple icon files (.icns) to PNG, with Pillow, after checking that no image inside is larger than it claims."""
import io
import struct
import warnings

from PIL import Image, Jpeg2KImagePlugin

from fenfa_lib.packages.images import PNG_SIGNATURE, png_size, verified_image

MAX_SIDE = 1024  # the largest size an .icns holds (ic10: 512 px at 2x)
MAX_ENTRIES = 64
JPEG2000_SIGNATURES = (b"\xff\x4f\xff\x51", b"\x0d\x0a\x87\x0a", b"\x00\x00\x00\x0cjP  \x0d\x0a\x87\x0a")


def icns_to_png(data):
    """The largest image of an .icns as PNG bytes, or None when the file does not convert. PNG and JPEG 2000
    entries carry their own dimensions, which Pillow would decode whatever they are: a file with one larger than
    MAX_SIDE is refused before any decoding."""
    entries = _entries(data)
    if not entries or not all(_entry_fits(entry) for entry in entries):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["ICNS"]) as image:
                image.load()
                output = io.BytesIO()
                image.convert("RGBA").save(output, "PNG")
    except Exception:  # Pillow raises many exception types on icons it cannot decode; a bad icon is no icon
        return None
    png = output.getvalue()
    return png if verified_image(png, MAX_SIDE * MAX_SIDE) == "png" else None


def _entries(data):
    """The data of the icon entries (type, length, data), or [] when the container is malformed."""
    if data[:4] != b"icns" or len(data) < 8:
        return []
    entries, position = [], 8
    while position + 8 <= len(data) and len(entries) < MAX_ENTRIES:
        _, length = struct.unpack_from(">4sI", data, position)
        if length < 8 or position + length > len(data):
            return []
        entries.append(data[position + 8:position + length])
        position += length
    return entries


def _entry_fits(entry):
    """False for a PNG or JPEG 2000 entry larger than MAX_SIDE (or unreadable); legacy bitmaps have fixed sizes."""
    try:
        if entry.startswith(PNG_SIGNATURE):
            width, height = png_size(entry)
        elif entry.startswith(JPEG2000_SIGNATURES):
            width, height = Jpeg2KImagePlugin.Jpeg2KImageFile(io.BytesIO(entry)).size
        else:
            return True
    except Exception:  # png_size raises ValueError; Pillow many exception types on a broken header
        return False
    return 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE
