"""Android signatures: which schemes sign a package and the SHA-256 of its signer's certificate.

v1 is a JAR signature (META-INF/*.SF with a PKCS#7 block in META-INF/*.RSA, *.DSA or *.EC); v2 and v3 live in
the APK Signing Block that sits just before the zip's central directory. The signatures are not verified: the
certificate says who the signer claims to be, which is what tells a changed signer apart.
"""
import hashlib
import re
import struct

from asn1crypto import cms

from fenfa_lib.config import MIB
from fenfa_lib.packages.ziputil import read_optional

EOCD_MAGIC = b"PK\x05\x06"
EOCD_SEARCH = 22 + 0xFFFF  # the end record and the longest zip comment
BLOCK_MAGIC = b"APK Sig Block 42"
MAX_BLOCK_SIZE = 16 * MIB
SCHEME_IDS = {0xF05368C0: "v3", 0x7109871A: "v2"}  # in order of preference for the signer certificate
JAR_SIGNATURE = re.compile(r"^META-INF/[^/]+\.(RSA|DSA|EC)$", re.IGNORECASE)
JAR_SIGNATURE_LIMIT = 1 * MIB


def android_signing(path, archive):
    """{"signature_schemes": ["v1", "v2", ...], "signer_sha256": hex or None} of an APK or AAB."""
    blocks = _signing_block_values(path)
    jar_blocks = [name for name in archive.namelist() if JAR_SIGNATURE.match(name)]
    has_manifest_signature = any(name.startswith("META-INF/") and name.upper().endswith(".SF")
                                 for name in archive.namelist())
    schemes = (["v1"] if jar_blocks and has_manifest_signature else []) + sorted(
        SCHEME_IDS[block_id] for block_id in blocks)
    certificate = next((_first_signer_certificate(blocks[block_id]) for block_id in SCHEME_IDS
                        if block_id in blocks), None)
    if certificate is None and jar_blocks:
        certificate = _jar_certificate(read_optional(archive, jar_blocks[0], JAR_SIGNATURE_LIMIT))
    return {"signature_schemes": schemes,
            "signer_sha256": hashlib.sha256(certificate).hexdigest() if certificate else None}


def _signing_block_values(path):
    """{scheme id: value} of the v2/v3 entries of the APK Signing Block; {} when there is none."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - EOCD_SEARCH))
        tail = handle.read()
        end = tail.rfind(EOCD_MAGIC)
        if end < 0 or end + 22 > len(tail):
            return {}
        (directory_offset,) = struct.unpack_from("<I", tail, end + 16)
        if directory_offset < 32 or directory_offset > size:
            return {}
        handle.seek(directory_offset - 24)
        block_size, magic = struct.unpack("<Q16s", handle.read(24))
        if magic != BLOCK_MAGIC or not 24 <= block_size <= min(MAX_BLOCK_SIZE, directory_offset - 8):
            return {}
        handle.seek(directory_offset - block_size - 8)
        block = handle.read(block_size + 8)
    if struct.unpack_from("<Q", block)[0] != block_size:
        return {}
    values, position, pairs_end = {}, 8, len(block) - 24
    while position + 12 <= pairs_end:
        length, block_id = struct.unpack_from("<QI", block, position)
        if length < 4 or position + 8 + length > pairs_end:
            break
        if block_id in SCHEME_IDS:
            values.setdefault(block_id, block[position + 12:position + 8 + length])
        position += 8 + length
    return values


def _prefixed(data, position=0):
    """(the uint32-length-prefixed bytes at `position`, the position after them); ValueError when cut short."""
    if position + 4 > len(data):
        raise ValueError("length prefix runs past its container")
    (length,) = struct.unpack_from("<I", data, position)
    if position + 4 + length > len(data):
        raise ValueError("length-prefixed value runs past its container")
    return data[position + 4:position + 4 + length], position + 4 + length


def _first_signer_certificate(value):
    """The first certificate of the first signer's signed data, in a v2 or v3 block (both begin
    signers → signer → signed data → digests, certificates)."""
    try:
        signers, _ = _prefixed(value)
        signer, _ = _prefixed(signers)
        signed_data, _ = _prefixed(signer)
        _, position = _prefixed(signed_data)
        certificates, _ = _prefixed(signed_data, position)
        certificate, _ = _prefixed(certificates)
    except ValueError:
        return None
    return certificate or None


def _jar_certificate(data):
    """The DER certificate of the first signer of a JAR signature block (PKCS#7 SignedData), or None."""
    if not data:
        return None
    try:
        signed_data = cms.ContentInfo.load(data)["content"]
        certificates = [choice.chosen for choice in signed_data["certificates"]]
        serial = signed_data["signer_infos"][0]["sid"].chosen["serial_number"].native
        signer = next((cert for cert in certificates if cert.serial_number == serial), certificates[0])
        return signer.dump()
    except Exception:  # asn1crypto raises many exception types on malformed input; a bad block is no certificate
        return None
