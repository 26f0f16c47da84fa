"""Provisioning profiles the tests make: every corpus IPA's own profile has expired, so a build that installs
needs a profile signed here, with an expiry ahead (CMS SignedData over the plist, as Apple ships them)."""
import io
import plistlib
import re
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from certs import make_certificate
from corpus import require_samples

TEAM = "TEAMID1234"


def signed_profile(kind="development", devices=(), days=365, bundle_id="*"):
    """The bytes of a .mobileprovision of `kind` ('development', 'ad-hoc', 'enterprise', 'app-store'), expiring
    in `days` (negative: expired)."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    info = {
        "AppIDName": "Fenfa Test", "ApplicationIdentifierPrefix": [TEAM], "CreationDate": now - timedelta(days=1),
        "ExpirationDate": now + timedelta(days=days), "Name": f"Fenfa {kind} profile", "TeamIdentifier": [TEAM],
        "TeamName": "Fenfa Test Team", "UUID": str(uuid.uuid4()), "Version": 1,
        "Entitlements": {"application-identifier": f"{TEAM}.{bundle_id}", "get-task-allow": kind == "development"},
    }
    if kind in ("development", "ad-hoc"):
        info["ProvisionedDevices"] = list(devices)
    if kind == "enterprise":
        info["ProvisionsAllDevices"] = True
    certificate, key = make_certificate("Apple Distribution: Fenfa Test")
    return (pkcs7.PKCS7SignatureBuilder().set_data(plistlib.dumps(info)).add_signer(certificate, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


def ipa_with_profile(ipa_name, profile):
    """The corpus IPA `ipa_name` with `profile` (bytes) as its main app's embedded.mobileprovision, or with no
    profile at all for None."""
    source = zipfile.ZipFile(require_samples() / ipa_name)
    info_plist = next(name for name in source.namelist() if re.fullmatch(r"Payload/[^/]+\.app/Info\.plist", name))
    target_name = info_plist.replace("Info.plist", "embedded.mobileprovision")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if item.filename != target_name:
                target.writestr(item, source.read(item))
        if profile is not None:
            target.writestr(target_name, profile)
    return out.getvalue()
