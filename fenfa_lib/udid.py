"""iOS device registration (UDID binding): the Profile Service profile and its optional CMS signature,
the device's signed answer, one-time nonces, device rows, and the signed token that brings the
browser back to the product page."""
import base64
import hashlib
import hmac
import plistlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from fenfa_lib import webhooks
from fenfa_lib.ids import new_id
from fenfa_lib.models import (
    NEWEST_FIRST,
    DeviceBinding,
    IOSDevice,
    ProvisioningProfile,
    Release,
    UDIDNonce,
    Variant,
    db,
    utcnow,
)
from fenfa_lib.packages.cms import cms_content
from fenfa_lib.text import is_ascii_number, without_control_characters

DEVICE_ATTRIBUTES = ["UDID", "IMEI", "ICCID", "VERSION", "PRODUCT", "SERIAL", "DEVICE_NAME"]
DEVICE_BOUND_KINDS = ("ad-hoc", "development")
NONCE_SECONDS = 600
NONCE_RETENTION = timedelta(days=1)
TOKEN_SECONDS = 3600
# Old devices have 40 hex digits, newer ones 8 + 16 hex digits joined by a dash.
UDID_PATTERN = re.compile(r"[0-9A-Fa-f]{40}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{16}")
MAX_ATTRIBUTE_LENGTH = 256


class DeviceCallbackError(ValueError):
    """The body the device posted is not a signed plist of device attributes."""


class RegistrationError(ValueError):
    """The callback cannot register a device: bad nonce, challenge or UDID."""


class SigningConfigError(ValueError):
    """The configured signing certificate chain or key cannot be used."""


@dataclass
class SigningChain:
    certificate: object  # a cryptography x509.Certificate
    key: object
    intermediates: list


def profile_service_profile(callback_url, nonce, product_name, organization):
    """The XML plist of a "Profile Service" profile that makes iOS post its attributes to `callback_url`."""
    host = urlsplit(callback_url).hostname or "localhost"
    product_name, organization = without_control_characters(product_name), without_control_characters(organization)
    return plistlib.dumps({
        "PayloadType": "Profile Service",
        "PayloadVersion": 1,
        "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadIdentifier": ".".join(reversed(host.split("."))) + ".fenfa.profile-service",
        "PayloadOrganization": organization or "Fenfa",
        "PayloadDisplayName": f"{product_name} device registration",
        "PayloadDescription": f"Sends this device's UDID to {host} so that test builds can include it.",
        "PayloadContent": {"URL": callback_url, "DeviceAttributes": DEVICE_ATTRIBUTES, "Challenge": nonce},
    })


def load_signing_chain(cert_path, key_path):
    """The PEM chain at `cert_path` (signer first, then intermediates) and the signer's PEM key."""
    from cryptography import x509  # 9 MiB and 50 ms at start-up: only servers that sign profiles pay
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        certificates = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningConfigError(f"cannot load udid_signing_cert / udid_signing_key: {exc}") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningConfigError("udid_signing_key must be an RSA or EC private key")
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != certificates[0].public_key().public_bytes(*public):
        raise SigningConfigError("udid_signing_key does not belong to the first certificate of udid_signing_cert")
    return SigningChain(certificates[0], key, certificates[1:])


def sign_profile(profile, chain):
    """CMS SignedData (DER) that embeds `profile` byte for byte (Binary: no CRLF conversion)."""
    from cryptography.hazmat.primitives import hashes, serialization  # see load_signing_chain
    from cryptography.hazmat.primitives.serialization import pkcs7

    builder = pkcs7.PKCS7SignatureBuilder().set_data(profile).add_signer(chain.certificate, chain.key,
                                                                          hashes.SHA256())
    for certificate in chain.intermediates:
        builder = builder.add_certificate(certificate)
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def parse_device_callback(body):
    """The device's attributes (UDID, PRODUCT, VERSION, SERIAL, DEVICE_NAME, CHALLENGE…) as strings.

    The device's signature is not verified: the one-time nonce is what authorises the callback.
    """
    try:
        attributes = plistlib.loads(cms_content(body))
    except Exception as exc:  # CMSError, and plistlib raises many exception types on malformed input
        raise DeviceCallbackError("body is not a signed plist of device attributes") from exc
    if not isinstance(attributes, dict):
        raise DeviceCallbackError("device attributes are not a dictionary")
    # A value of another type becomes "", so that a non-text UDID or CHALLENGE is refused, not ignored.
    return {key: value.strip()[:MAX_ATTRIBUTE_LENGTH] if isinstance(value, str) else ""
            for key, value in attributes.items() if isinstance(key, str)}


def create_nonce(variant):
    """A new one-time nonce for `variant`, valid for NONCE_SECONDS; drops nonces long expired."""
    now = utcnow()
    nonce = secrets.token_urlsafe(24)
    expires_at = now + timedelta(seconds=NONCE_SECONDS)
    with db.atomic():
        UDIDNonce.delete().where(UDIDNonce.expires_at < now - NONCE_RETENTION).execute()
        UDIDNonce.create(nonce=nonce, variant=variant, created_at=now, expires_at=expires_at)
    return nonce


def check_nonce_live(nonce):
    """RegistrationError unless `nonce` is known, unused and unexpired. This is the early check, made
    before the device's body is parsed; register_device checks again atomically as it uses the nonce up."""
    row = UDIDNonce.get_or_none(UDIDNonce.nonce == nonce) if nonce else None
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise RegistrationError("nonce is unknown, expired or already used")


def register_device(nonce, attributes):
    """Use up `nonce`, upsert the device and its binding to the nonce's variant, and remember on the
    nonce which device used it, in one transaction."""
    udid = attributes.get("UDID", "")
    if not UDID_PATTERN.fullmatch(udid):
        raise RegistrationError("the device sent no valid UDID")
    challenge = attributes.get("CHALLENGE")
    if challenge is not None and not hmac.compare_digest(challenge.encode(), nonce.encode()):
        raise RegistrationError("CHALLENGE does not match the nonce")
    now = utcnow()
    details = {IOSDevice.device_name: attributes.get("DEVICE_NAME"), IOSDevice.model: attributes.get("PRODUCT"),
               IOSDevice.os_version: attributes.get("VERSION"), IOSDevice.serial: attributes.get("SERIAL")}
    details = {column: value for column, value in details.items() if value}
    with db.atomic():
        claimed = (UDIDNonce.update(used_at=now)
                   .where((UDIDNonce.nonce == nonce) & UDIDNonce.used_at.is_null() & (UDIDNonce.expires_at > now))
                   .execute())
        if claimed != 1:
            raise RegistrationError("nonce is unknown, expired or already used")
        variant_id = UDIDNonce.get_by_id(nonce).variant_id
        (IOSDevice.insert({IOSDevice.id: new_id("device"), IOSDevice.udid: udid, IOSDevice.created_at: now,
                           IOSDevice.last_seen_at: now, **details})
         # What an unauthenticated body says never replaces what is known of a device: it only was seen again.
         .on_conflict(conflict_target=[IOSDevice.udid], update={IOSDevice.last_seen_at: now})
         .execute())
        device = IOSDevice.get(IOSDevice.udid == udid)
        bound = DeviceBinding.select().where((DeviceBinding.device == device) & (DeviceBinding.variant == variant_id))
        if not bound.exists():
            DeviceBinding.create(device=device, variant=variant_id, created_at=now)
            variant = Variant.get_by_id(variant_id)
            webhooks.enqueue("device.bound", variant.product, variant, device=device)
        UDIDNonce.update(device=device).where(UDIDNonce.nonce == nonce).execute()
    return device, variant_id


def in_newest_profile(variant_id, udid):
    """Whether the newest release of the variant can install on this device: its provisioning profile
    lists the UDID or provisions all devices (enterprise). False without a release or a profile."""
    release = (Release.select().where(Release.variant == variant_id)
               .order_by(*NEWEST_FIRST).first())
    profile = ProvisioningProfile.get_or_none(ProvisioningProfile.release == release) if release else None
    if profile is None:
        return False
    return profile.kind == "enterprise" or udid.lower() in {listed.lower() for listed in profile.devices}


def registration_status(variant_id, device):
    """`{bound, udid, in_profile}` of a device (or None) for a variant; the UDID is masked."""
    bound = device is not None and DeviceBinding.select().where(
        (DeviceBinding.device == device) & (DeviceBinding.variant == variant_id)).exists()
    if not bound:
        return {"bound": False, "udid": None, "in_profile": None}
    return {"bound": True, "udid": mask_udid(device.udid), "in_profile": in_newest_profile(variant_id, device.udid)}


def token_registration(secret, token, variant_id):
    """The registration a genuine, unexpired return token proves for this variant, or None when it
    proves none or names a device not bound to the variant."""
    registration = registration_status(variant_id, token_device(secret, token, variant_id))
    return registration if registration["bound"] else None


def mask_udid(udid):
    return f"{udid[:4]}…{udid[-4:]}"


def issue_token(secret, variant_id, device, now=None):
    """`<device id>.<expiry>.<HMAC-SHA256 over variant id, UDID and expiry>`, valid for TOKEN_SECONDS.
    It names the device by its ID so that the UDID stays out of URLs."""
    expires = int(now if now is not None else time.time()) + TOKEN_SECONDS
    return f"{device.id}.{expires}.{_token_mac(secret, variant_id, device.udid, expires)}"


def token_device(secret, token, variant_id, now=None):
    """The device an unexpired, genuine token for this variant names, else None."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not is_ascii_number(parts[1], max_digits=12):
        return None
    device_id, expires, mac = parts[0], int(parts[1]), parts[2]
    if expires < (now if now is not None else time.time()):
        return None
    device = IOSDevice.get_or_none(IOSDevice.id == device_id)
    expected = _token_mac(secret, variant_id, device.udid, expires) if device else ""
    if device is None or not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    return device


def _token_mac(secret, variant_id, udid, expires):
    message = f"{variant_id}\n{udid}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
