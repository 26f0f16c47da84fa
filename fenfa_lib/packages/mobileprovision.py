"""Provisioning profiles: the plist inside the CMS SignedData envelope, and what kind of profile it is."""
import plistlib
import warnings
from datetime import UTC, datetime

from fenfa_lib.packages.appinfo import PackageError, ProfileInfo
from fenfa_lib.packages.cms import NotSignedData, cms_content


def parse_mobileprovision(der):
    """ProfileInfo from the bytes of a .mobileprovision file."""
    info = _profile_plist(der)
    if not isinstance(info.get("UUID"), str) or not isinstance(info.get("ExpirationDate"), datetime):
        raise PackageError("provisioning profile has no UUID or ExpirationDate")
    entitlements = _dict(info.get("Entitlements"))
    devices = [udid for udid in _list(info.get("ProvisionedDevices")) if isinstance(udid, str)]
    teams = _list(info.get("TeamIdentifier"))
    return ProfileInfo(
        kind=_kind(info, entitlements, devices),
        name=_text(info.get("Name")) or "",
        uuid=info["UUID"],
        team_id=_text(teams[0]) if teams else None,
        team_name=_text(info.get("TeamName")),
        app_id=_text(entitlements.get("application-identifier")
                     or entitlements.get("com.apple.application-identifier")),  # macOS profiles use this key
        created_at=_utc(info.get("CreationDate")),
        expires_at=_utc(info["ExpirationDate"]),
        devices=devices,
        certificates=[cert for cert in map(_certificate, _list(info.get("DeveloperCertificates"))) if cert],
        entitlements={key: value for key, value in entitlements.items() if _is_json(value)},
    )


def _profile_plist(der):
    """The signed content as a dict."""
    try:
        info = plistlib.loads(cms_content(der))
    except NotSignedData as exc:
        raise PackageError("provisioning profile is not CMS signed data") from exc
    except Exception as exc:  # CMSError, and plistlib raises many exception types on malformed input
        raise PackageError("provisioning profile is not a readable signed plist") from exc
    if not isinstance(info, dict):
        raise PackageError("provisioning profile plist is not a dictionary")
    return info


def _kind(info, entitlements, devices):
    if info.get("ProvisionsAllDevices") is True:
        return "enterprise"
    if devices:
        return "development" if entitlements.get("get-task-allow") is True else "ad-hoc"
    return "app-store"


def _certificate(der):
    """{"name", "expires_at"} of a DER developer certificate, or None when it does not parse."""
    from cryptography import x509  # 9 MiB and 50 ms at start-up: only uploads of iOS builds pay
    from cryptography.x509.oid import NameOID

    if not isinstance(der, bytes):
        return None
    try:
        certificate = x509.load_der_x509_certificate(der)
        with warnings.catch_warnings():  # Apple's CNs often exceed X.520's 64 characters
            warnings.simplefilter("ignore", UserWarning)
            names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return {"name": str(names[0].value) if names else "", "expires_at": certificate.not_valid_after_utc}
    except ValueError:
        return None


def _is_json(value, depth=0):
    """Whether a plist value is made of JSON types only (no data or dates), nested at most a few levels."""
    if isinstance(value, (str, bool, int, float)):
        return True
    if depth > 4:
        return False
    if isinstance(value, list):
        return all(_is_json(item, depth + 1) for item in value)
    return isinstance(value, dict) and all(isinstance(key, str) and _is_json(item, depth + 1)
                                           for key, item in value.items())


def _utc(value):
    """plistlib gives naive datetimes that are in UTC."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None


def _text(value):
    return value if isinstance(value, str) else None


def _list(value):
    return value if isinstance(value, list) else []


def _dict(value):
    return value if isinstance(value, dict) else {}
