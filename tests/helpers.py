"""Test helpers shared by the test modules: a token-aware API client, envelope and leftover checks, a call
counter, and builders of synthetic packages (PNG and CgBI images, provisioning profiles, APKs)."""
import importlib
import io
import plistlib
import struct
import zipfile
import zlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fenfa_lib.models import Release

from corpus import png_predictor, require_samples

ADMIN_TOKEN = "admin-token-for-tests"
UPLOAD_TOKEN = "upload-token-for-tests"


class Api:
    """Calls the HTTP API with a token and unwraps the envelope."""

    def __init__(self, client, token):
        self.client = client
        self.token = token

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        token = self.token if token is None else token
        if token:
            headers["X-Auth-Token"] = token
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def data(self, method, path, status=200, **kwargs):
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.json["ok"] is True
        return response.json["data"]

    def create_product(self, **fields):
        body = {"name": "Demo App", "slug": "demo", **fields}
        return self.data("POST", "/admin/api/products", 201, json=body)["product"]

    def create_variant(self, product_id, **fields):
        body = {"platform": "android", "display_name": "Android", "identifier": "com.example.demo", **fields}
        return self.data("POST", f"/admin/api/products/{product_id}/variants", 201, json=body)["variant"]

    def upload(self, variant_id, file_name, content=None, token=UPLOAD_TOKEN, path="/upload", **fields):
        """POST a build as multipart; without `content`, the corpus sample called `file_name`."""
        content = (require_samples() / file_name).read_bytes() if content is None else content
        form = {"app_file": (io.BytesIO(content), file_name), **fields}
        if variant_id:
            form["variant_id"] = variant_id
        return self.call("POST", path, token=token, data=form, content_type="multipart/form-data")

    def upload_release(self, variant_id, file_name, content=None, **fields):
        """Upload that must succeed; returns the new release."""
        response = self.upload(variant_id, file_name, content, **fields)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.json["data"]["release"]


def assert_error(response, status, code, message_part=""):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert body["ok"] is False
    assert body["error"]["code"] == code
    assert message_part in body["error"]["message"]


def stored_files(data_dir):
    uploads = data_dir / "uploads"
    return sorted(p.relative_to(uploads).as_posix() for p in uploads.rglob("*")) if uploads.exists() else []


def assert_nothing_left(data_dir):
    """No release row, no stored file and no temporary file: what a refused or failed upload must leave."""
    assert Release.select().count() == 0
    assert stored_files(data_dir) == []
    assert list((data_dir / "tmp").iterdir()) == []


def count_calls(monkeypatch, target):
    """Wrap the function at `target` ("package.module.name") so that it still runs but every call is recorded;
    returns the list of recorded calls' positional arguments."""
    module_name, _, name = target.rpartition(".")
    original = getattr(importlib.import_module(module_name), name)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, counted)
    return calls


# PNG and CgBI images.

CGBI_CHUNK_BODY = b"\x50\x00\x20\x06"


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def filter_rows(pixels, width, height, bpp, filter_types):
    """PNG-filter each row with the filter type given for it (cycled), as an encoder would."""
    stride, out, previous = width * bpp, bytearray(), bytes(width * bpp)
    for y in range(height):
        row, kind = pixels[y * stride:(y + 1) * stride], filter_types[y % len(filter_types)]
        out.append(kind)
        for i in range(stride):
            left, up_left = (row[i - bpp], previous[i - bpp]) if i >= bpp else (0, 0)
            out.append((row[i] - png_predictor(kind, left, previous[i], up_left)) & 0xFF)
        previous = row
    return bytes(out)


def make_png(width, height, rgba=None):
    """A standard RGBA PNG, by default a gradient."""
    rgba = rgba or bytes((x * 7 + y, y * 5, x ^ y, 255)[c] & 0xFF for y in range(height) for x in range(width)
                         for c in range(4))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    raw = filter_rows(rgba, width, height, 4, [0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def make_cgbi(width, height, rgba, color_type=6, filter_types=(0, 1, 2, 3, 4)):
    """Crush pixels the way Xcode does: premultiply alpha, swap to BGR(A), filter, raw deflate, CgBI first."""
    bpp = 4 if color_type == 6 else 3
    crushed = bytearray()
    for i in range(0, len(rgba), 4):
        red, green, blue, alpha = rgba[i:i + 4]
        if color_type == 6:
            red, green, blue = ((value * alpha + 127) // 255 for value in (red, green, blue))
            crushed += bytes((blue, green, red, alpha))
        else:
            crushed += bytes((blue, green, red))
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflater.compress(filter_rows(bytes(crushed), width, height, bpp, filter_types)) + deflater.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"CgBI", CGBI_CHUNK_BODY) + chunk(b"IHDR", header)
            + chunk(b"IDAT", data[:50]) + chunk(b"IDAT", data[50:]) + chunk(b"IEND", b""))


def sample_pixels(width, height):
    """RGBA pixels with opaque, transparent and partly transparent values (alpha >= 128 keeps rounding in ±1)."""
    alphas = (255, 0, 128, 200, 254, 170, 129)
    return bytes(value for y in range(height) for x in range(width)
                 for value in ((x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y * 3 + 17) % 256,
                               alphas[(x + y) % len(alphas)]))


# Provisioning profiles: plists and the CMS envelopes around them.

SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
DATA_OID = bytes.fromhex("06092a864886f70d010701")
CERT_EXPIRY = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)


def developer_certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple Development: Test Person (AB12CD34EF)")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(7).not_valid_before(CERT_EXPIRY - timedelta(days=365)).not_valid_after(CERT_EXPIRY)
                   .sign(key, hashes.SHA256()))
    return certificate, key


def profile_plist(**overrides):
    certificate, _ = developer_certificate()
    info = {
        "Name": "Synthetic Profile",
        "UUID": "0a1b2c3d-0000-4000-8000-123456789abc",
        "TeamIdentifier": ["TEAM123456"],
        "TeamName": "Synthetic Team",
        "CreationDate": datetime(2030, 1, 2, 3, 4, 5),
        "ExpirationDate": datetime(2031, 1, 2, 3, 4, 5),
        "Entitlements": {"application-identifier": "TEAM123456.com.example.synthetic", "get-task-allow": False},
        "DeveloperCertificates": [certificate.public_bytes(serialization.Encoding.DER)],
    }
    info.update(overrides)
    return plistlib.dumps({key: value for key, value in info.items() if value is not None})


def ber(tag, *parts):
    """An indefinite-length BER element, which DER forbids and Apple's tools may emit."""
    return tag + b"\x80" + b"".join(parts) + b"\x00\x00"


def ber_chunked_profile(content, chunk_size=100):
    """ContentInfo(SignedData) whose content is a constructed OCTET STRING split into chunks: chunk headers land
    inside the plist bytes, which breaks parsers that slice from <?xml to </plist>."""
    chunks = b"".join(b"\x04\x81" + bytes([len(piece)]) + piece
                      for piece in (content[i:i + chunk_size] for i in range(0, len(content), chunk_size)))
    encapsulated = ber(b"\x30", DATA_OID, ber(b"\xa0", ber(b"\x24", chunks)))
    signed_data = ber(b"\x30", b"\x02\x01\x01", b"\x31\x00", encapsulated, b"\x31\x00")
    return ber(b"\x30", SIGNED_DATA_OID, ber(b"\xa0", signed_data))


# APKs with binary XML (AXML) manifests.

ANDROID_NS = "http://schemas.android.com/apk/res/android"
AXML_ATTRIBUTE_IDS = {"label": 0x01010001, "icon": 0x01010002, "name": 0x01010003, "required": 0x0101028E,
                      "versionCode": 0x0101021B, "versionName": 0x0101021C, "minSdkVersion": 0x0101020C,
                      "targetSdkVersion": 0x01010270, "drawable": 0x01010199}
APP_ICON = 0x7F020000  # the resource id manifest() gives the application's icon
AXML_STRING, AXML_REFERENCE, AXML_INT, AXML_BOOLEAN = 0x03, 0x01, 0x10, 0x12  # attribute value types


class Axml:
    """A minimal binary XML (AXML) writer: UTF-16 string pool, resource map, namespace and element chunks."""

    def __init__(self):
        self.strings = list(AXML_ATTRIBUTE_IDS) + [ANDROID_NS, "android"]
        self.body = b""

    def index(self, text):
        if text not in self.strings:
            self.strings.append(text)
        return self.strings.index(text)

    def start(self, tag, attrs=()):
        """attrs: (name, value type, value) with value a str, int or bool."""
        encoded = b""
        for name, kind, value in attrs:
            raw = self.index(value) if kind == AXML_STRING else 0xFFFFFFFF
            data = {AXML_STRING: raw, AXML_BOOLEAN: 0xFFFFFFFF if value else 0}.get(kind, value)
            namespace = self.index(ANDROID_NS) if name in AXML_ATTRIBUTE_IDS else 0xFFFFFFFF
            encoded += struct.pack("<IIIHBBI", namespace, self.index(name), raw, 8, 0, kind, data)
        header = struct.pack("<IIIIHHHHHH", 0, 0xFFFFFFFF, 0xFFFFFFFF, self.index(tag), 20, 20, len(attrs), 0, 0, 0)
        self.body += struct.pack("<HHI", 0x0102, 16, 8 + len(header) + len(encoded)) + header + encoded
        return self

    def end(self, tag):
        self.body += struct.pack("<HHIIIII", 0x0103, 16, 24, 0, 0xFFFFFFFF, 0xFFFFFFFF, self.index(tag))
        return self

    def build(self):
        namespace = struct.pack("<IIII", 0, 0xFFFFFFFF, self.index("android"), self.index(ANDROID_NS))
        start_ns = struct.pack("<HHI", 0x0100, 16, 24) + namespace
        end_ns = struct.pack("<HHI", 0x0101, 16, 24) + namespace
        data = b"".join(struct.pack("<H", len(text)) + text.encode("utf-16-le") + b"\x00\x00" for text in self.strings)
        offsets, position = [], 0
        for text in self.strings:
            offsets.append(position)
            position += 4 + 2 * len(text)
        data += bytes(-len(data) % 4)
        pool_header = struct.pack("<IIIII", len(self.strings), 0, 0, 28 + 4 * len(self.strings), 0)
        pool = struct.pack("<HHI", 0x0001, 28, 8 + len(pool_header) + 4 * len(offsets) + len(data)) + pool_header
        pool += struct.pack(f"<{len(offsets)}I", *offsets) + data
        resource_map = struct.pack("<HHI", 0x0180, 8, 8 + 4 * len(AXML_ATTRIBUTE_IDS)) + struct.pack(
            f"<{len(AXML_ATTRIBUTE_IDS)}I", *AXML_ATTRIBUTE_IDS.values())
        chunks = pool + resource_map + start_ns + self.body + end_ns
        return struct.pack("<HHI", 0x0003, 8, 8 + len(chunks)) + chunks


def typed(value):
    """The AXML value type of a test value: text is a string, a number an integer."""
    return AXML_STRING if isinstance(value, str) else AXML_INT


def manifest(package="com.example.synthetic", version_name="3.1 beta", version_code=31, label="Synthetic Label",
             watch=False, extra=(), launcher_icon=None, min_sdk=21, target_sdk=34):
    """A binary AndroidManifest.xml; `label` is a literal (str) or a resource id (int)."""
    xml = Axml()
    attrs = [("package", AXML_STRING, package)] if package else []
    attrs += [("versionCode", typed(version_code), version_code)] if version_code is not None else []
    attrs += [("versionName", AXML_STRING, version_name)] if version_name is not None else []
    xml.start("manifest", attrs)
    sdk = [("minSdkVersion", typed(min_sdk), min_sdk), ("targetSdkVersion", typed(target_sdk), target_sdk)]
    xml.start("uses-sdk", sdk).end("uses-sdk")
    if watch:
        xml.start("uses-feature", [("name", AXML_STRING, "android.hardware.type.watch")]).end("uses-feature")
    for tag, attributes in extra:
        xml.start(tag, attributes).end(tag)
    label_attr = [("label", AXML_STRING, label)] if isinstance(label, str) else [("label", AXML_REFERENCE, label)]
    xml.start("application", label_attr + [("icon", AXML_REFERENCE, APP_ICON)])
    if launcher_icon:
        xml.start("activity", [("name", AXML_STRING, ".Settings"), ("icon", AXML_REFERENCE, APP_ICON)]).end("activity")
        xml.start("activity", [("name", AXML_STRING, ".Main"), ("icon", AXML_REFERENCE, launcher_icon)])
        xml.start("intent-filter")
        xml.start("action", [("name", AXML_STRING, "android.intent.action.MAIN")]).end("action")
        xml.start("category", [("name", AXML_STRING, "android.intent.category.LAUNCHER")]).end("category")
        xml.end("intent-filter").end("activity")
    return xml.end("application").end("manifest").build()


def make_apk(path, manifest_bytes, members=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if manifest_bytes is not None:
            archive.writestr("AndroidManifest.xml", manifest_bytes)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return path


# Resource tables (resources.arsc) as aapt writes them, with plain (non-sparse) type chunks.

ARSC_STRING, ARSC_REFERENCE = 0x03, 0x01  # Res_value data types


def arsc_string_pool(strings):
    """A UTF-16 string pool chunk, in the layout Axml.build writes."""
    data = b"".join(struct.pack("<H", len(text)) + text.encode("utf-16-le") + b"\x00\x00" for text in strings)
    offsets, position = [], 0
    for text in strings:
        offsets.append(position)
        position += 4 + 2 * len(text)
    data += bytes(-len(data) % 4)
    header = struct.pack("<IIIII", len(strings), 0, 0, 28 + 4 * len(strings), 0)
    pool = struct.pack("<HHI", 0x0001, 28, 8 + len(header) + 4 * len(offsets) + len(data)) + header
    return pool + struct.pack(f"<{len(offsets)}I", *offsets) + data


def make_arsc(strings, types, package_id=0x7F):
    """A resources.arsc. strings: the global pool; types: {type id: (type name, configs)}, each config a
    (density, values) pair whose values are the type's entries in order, each (data type, data) or None."""
    names = [name for name, _ in types.values()]
    type_names = [next((name for type_id, (name, _) in types.items() if type_id == i + 1), f"t{i + 1}")
                  for i in range(max(types))]
    key_names = [f"k{i}" for i in range(max(len(values) for _, configs in types.values() for _, values in configs))]
    assert set(names) <= set(type_names)
    body = arsc_string_pool(type_names) + arsc_string_pool(key_names)
    for type_id, (_, configs) in sorted(types.items()):
        for density, values in configs:
            config = struct.pack("<IIIIIIIII", 36, 0, 0, density << 16, 0, 0, 0, 0, 0)
            offsets, entries = [], b""
            for index, value in enumerate(values):
                if value is None:
                    offsets.append(0xFFFFFFFF)
                    continue
                offsets.append(len(entries))
                entries += struct.pack("<HHIHBBI", 8, 0, index, 8, 0, *value)
            header_size = 8 + 12 + len(config)
            entries_start = header_size + 4 * len(offsets)
            head = struct.pack("<BBHII", type_id, 0, 0, len(offsets), entries_start) + config
            body += (struct.pack("<HHI", 0x0201, header_size, entries_start + len(entries)) + head
                     + struct.pack(f"<{len(offsets)}I", *offsets) + entries)
    package_header = struct.pack("<I", package_id) + "app".encode("utf-16-le").ljust(256, b"\x00")
    package_header += struct.pack("<IIII", 8 + 276, 0, 8 + 276 + len(arsc_string_pool(type_names)), 0)
    package = struct.pack("<HHI", 0x0200, 8 + len(package_header), 8 + len(package_header) + len(body))
    pool = arsc_string_pool(strings)
    return (struct.pack("<HHII", 0x0002, 12, 12 + len(pool) + len(package) + len(package_header) + len(body), 1)
            + pool + package + package_header + body)


def chained_arsc(depth, fan_out, label="Chained Label", icon_path="res/mipmap/icon.png"):
    """A table whose label (0x7F010000) and icon (0x7F020000, APP_ICON) are chains of `depth` references, each
    resource having `fan_out` density configurations that all point to the next: apkutils2's resolver walks
    fan_out ** depth paths."""
    strings = [label, icon_path]
    types = {}
    for type_id, leaf in ((1, 0), (2, 1)):
        configs = []
        for density in range(1, fan_out + 1):
            values = [(ARSC_REFERENCE, package_entry(type_id, i + 1)) for i in range(depth)]
            configs.append((density * 160, values + [(ARSC_STRING, leaf)]))
        types[type_id] = ("string" if type_id == 1 else "mipmap", configs)
    return make_arsc(strings, types)


def package_entry(type_id, entry, package_id=0x7F):
    return package_id << 24 | type_id << 16 | entry
