"""Provisioning profiles: real signed ones from the corpus, and CMS envelopes built here (DER and BER-chunked)."""
import plistlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from fenfa_lib.packages.appinfo import PackageError
from fenfa_lib.packages.mobileprovision import parse_mobileprovision

from corpus import sample, sample_names
from helpers import CERT_EXPIRY, DATA_OID, ber, ber_chunked_profile, developer_certificate, profile_plist

KINDS = {"enterprise/in-house": "enterprise"}


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("name", sample_names("*.mobileprovision"))
def test_corpus_profiles_match_expected_metadata(name):
    path, meta = sample(name)
    profile = parse_mobileprovision(path.read_bytes())
    assert profile.kind == KINDS.get(meta["type"], meta["type"])
    assert profile.name == meta["Name"]
    assert profile.uuid == meta["UUID"]
    assert profile.team_id == meta["TeamIdentifier"][0]
    assert profile.team_name == meta["TeamName"]
    assert profile.app_id == meta["appid"]
    assert profile.created_at == utc(meta["CreationDate"])
    assert profile.expires_at == utc(meta["ExpirationDate"])
    assert len(profile.devices) == meta["devices"]
    assert profile.certificates and all(cert["name"] and cert["expires_at"].tzinfo for cert in profile.certificates)


def der_signed_profile(content):
    certificate, key = developer_certificate()
    return (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(certificate, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


@pytest.mark.parametrize("envelope", [ber_chunked_profile, der_signed_profile])
def test_profile_fields_from_a_signed_envelope(envelope):
    content = profile_plist(ProvisionedDevices=["00008030-000A1B2C3D4E5F60", "b" * 40])
    assert b"\x04\x81" in ber_chunked_profile(content)[200:]

    profile = parse_mobileprovision(envelope(content))

    assert profile.kind == "ad-hoc"
    assert profile.name == "Synthetic Profile"
    assert profile.uuid == "0a1b2c3d-0000-4000-8000-123456789abc"
    assert (profile.team_id, profile.team_name) == ("TEAM123456", "Synthetic Team")
    assert profile.app_id == "TEAM123456.com.example.synthetic"
    assert profile.created_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert profile.expires_at == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert profile.devices == ["00008030-000A1B2C3D4E5F60", "b" * 40]
    assert profile.certificates == [{"name": "Apple Development: Test Person (AB12CD34EF)", "expires_at": CERT_EXPIRY}]


@pytest.mark.parametrize("overrides, kind", [
    ({"ProvisionsAllDevices": True}, "enterprise"),
    ({"ProvisionedDevices": ["udid-1"], "Entitlements": {"get-task-allow": True}}, "development"),
    ({"ProvisionedDevices": ["udid-1"], "Entitlements": {"get-task-allow": False}}, "ad-hoc"),
    ({"ProvisionedDevices": []}, "app-store"),
    ({"Entitlements": {"get-task-allow": True}}, "app-store"),
])
def test_kind_is_derived_from_devices_and_entitlements(overrides, kind):
    assert parse_mobileprovision(ber_chunked_profile(profile_plist(**overrides))).kind == kind


def test_binary_plist_payload_and_unparseable_certificates():
    content = plistlib.dumps(plistlib.loads(profile_plist(DeveloperCertificates=[b"not a certificate"])),
                             fmt=plistlib.FMT_BINARY)
    profile = parse_mobileprovision(ber_chunked_profile(content))
    assert profile.certificates == []
    assert profile.name == "Synthetic Profile"


@pytest.mark.parametrize("der, message", [
    (b"", "not a readable signed plist"),
    (b"<?xml version='1.0'?><plist><dict/></plist>", "not a readable signed plist"),
    (ber(b"\x30", DATA_OID, ber(b"\xa0", b"\x04\x03abc")), "not CMS signed data"),
    (ber_chunked_profile(b"this is not a plist"), "not a readable signed plist"),
    (ber_chunked_profile(plistlib.dumps(["a", "list"])), "not a dictionary"),
    (ber_chunked_profile(profile_plist(UUID=None)), "no UUID or ExpirationDate"),
    (ber_chunked_profile(profile_plist(ExpirationDate="tomorrow")), "no UUID or ExpirationDate"),
    (ber_chunked_profile(profile_plist())[:300], "not a readable signed plist"),
])
def test_garbage_raises_package_error(der, message):
    with pytest.raises(PackageError, match=message):
        parse_mobileprovision(der)


def test_truncated_corpus_profile_raises_package_error():
    path, _ = sample("ios-profile-adhoc.mobileprovision")
    with pytest.raises(PackageError):
        parse_mobileprovision(path.read_bytes()[:2000])


@pytest.mark.parametrize("value", [1, True, "text", [], [{}], {}, {"get-task-allow": "yes"}, b"bytes", [b"x", 3]],
                         ids=repr)
def test_odd_value_types_never_crash(value):
    keys = ["Name", "UUID", "TeamIdentifier", "TeamName", "CreationDate", "ExpirationDate", "Entitlements",
            "ProvisionedDevices", "ProvisionsAllDevices", "DeveloperCertificates"]
    for key in keys:
        try:
            profile = parse_mobileprovision(ber_chunked_profile(profile_plist(**{key: value})))
        except PackageError:
            continue
        assert profile.kind in ("development", "ad-hoc", "enterprise", "app-store")
        assert all(isinstance(udid, str) for udid in profile.devices)
