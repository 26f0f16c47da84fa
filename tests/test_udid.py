"""UDID binding: the Profile Service profile (plain and CMS-signed), the device's callback in DER and
BER-chunked envelopes, nonces, the status endpoint, the return token and the product page's notice."""
import io
import plistlib
import re
import shutil
import subprocess
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit
from xml.parsers.expat import ExpatError

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fenfa_lib import udid
from fenfa_lib.models import DeviceBinding, IOSDevice, UDIDNonce, utcnow
from fenfa_lib.packages.mobileprovision import parse_mobileprovision
from fenfa_lib.web.urls import with_query

from certs import make_certificate, pem
from corpus import require_samples, skip_or_fail
from helpers import assert_error
from iphone import der_body, device_plist, get_profile, nonce_of, post_callback, register
from profiles import ipa_with_profile as fresh_ipa
from profiles import signed_profile

BASE_IPA = "ios-iphone-binary-plist-no-icons.ipa"  # its own profile is a development one
ENTERPRISE_IPA = "ios-legacy-min-ios5-helloworld.ipa"
BUNDLE_IDS = {BASE_IPA: "com.icyleaf.AppInfoDemo", ENTERPRISE_IPA: "com.kthcorp.helloworld"}
ADHOC_PROFILE = "ios-profile-adhoc.mobileprovision"
APPSTORE_PROFILE = "ios-profile-appstore.mobileprovision"
OTHER_UDID = "00008030-001A2B3C4D5E6F70"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
DATA_OID = bytes.fromhex("06092a864886f70d010701")
KEEP = object()


def openssl():
    """The openssl binary; a missing one fails the test on CI and skips it elsewhere."""
    path = shutil.which("openssl")
    if path is None:
        skip_or_fail("openssl not found")
    return path


def adhoc_udid():
    """A UDID the sample ad-hoc profile lists."""
    return parse_mobileprovision((require_samples() / ADHOC_PROFILE).read_bytes()).devices[0]


def ipa_with_profile(ipa_name, profile=KEEP):
    """A corpus IPA whose main app carries `profile` (a corpus profile name) as embedded.mobileprovision,
    its own for KEEP, or no profile at all for None."""
    if profile is KEEP:
        return (require_samples() / ipa_name).read_bytes()
    return fresh_ipa(ipa_name, None if profile is None else (require_samples() / profile).read_bytes())


def ber(tag, *parts):
    return tag + b"\x80" + b"".join(parts) + b"\x00\x00"


def ber_chunked_body(content, chunk_size=100):
    """Indefinite-length SignedData whose content is split into OCTET STRING chunks (no signers)."""
    chunks = b"".join(b"\x04\x81" + bytes([len(piece)]) + piece
                      for piece in (content[i:i + chunk_size] for i in range(0, len(content), chunk_size)))
    encapsulated = ber(b"\x30", DATA_OID, ber(b"\xa0", ber(b"\x24", chunks)))
    signed_data = ber(b"\x30", b"\x02\x01\x01", b"\x31\x00", encapsulated, b"\x31\x00")
    return ber(b"\x30", SIGNED_DATA_OID, ber(b"\xa0", signed_data))


def openssl_streamed_body(content, tmp_path):
    """`openssl cms -sign -stream`: indefinite lengths and 4096-byte content chunks, as some senders emit."""
    certificate, key = make_certificate("device identity")
    (tmp_path / "device.crt").write_bytes(pem(certificate))
    (tmp_path / "device.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    (tmp_path / "device.plist").write_bytes(content)
    subprocess.run([openssl(), "cms", "-sign", "-binary", "-nodetach", "-stream", "-outform", "DER",
                    "-in", tmp_path / "device.plist", "-signer", tmp_path / "device.crt",
                    "-inkey", tmp_path / "device.key", "-out", tmp_path / "body.p7s"], check=True)
    return (tmp_path / "body.p7s").read_bytes()


@pytest.fixture
def ios_app(api):
    """Product "demo" with an iOS variant whose build carries an ad-hoc profile for the sample ad-hoc profile's
    devices, expiring a year from now (the sample's own has expired)."""
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="ios", display_name="iPhone", identifier=BUNDLE_IDS[BASE_IPA])
    devices = parse_mobileprovision((require_samples() / ADHOC_PROFILE).read_bytes()).devices
    release = api.upload_release(variant["id"], "adhoc.ipa", fresh_ipa(BASE_IPA, signed_profile("ad-hoc", devices)))
    return {"product": product, "variant": variant, "release": release}


def token_from(response):
    assert response.status_code == 301, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith("http://localhost/products/demo?udid_token=")
    return parse_qs(urlsplit(location).query)["udid_token"][0]


def card_html(html):
    return re.search(r'data-platform="ios">(.*?)</article>', html, re.S).group(1)


def test_profile_is_an_unsigned_profile_service_plist_with_the_nonce(client, ios_app):
    response = get_profile(client, ios_app["variant"]["id"])
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    assert response.headers["Content-Disposition"] == 'attachment; filename="register.mobileconfig"'
    assert response.data.startswith(b"<?xml")
    profile = plistlib.loads(response.data)
    nonce = nonce_of(response)
    assert profile["PayloadType"] == "Profile Service" and profile["PayloadVersion"] == 1
    assert profile["PayloadContent"] == {
        "URL": f"http://localhost/udid/callback?nonce={nonce}",
        "DeviceAttributes": ["UDID", "IMEI", "ICCID", "VERSION", "PRODUCT", "SERIAL", "DEVICE_NAME"],
        "Challenge": nonce,
    }
    assert profile["PayloadDisplayName"] == "Demo App device registration"
    assert profile["PayloadOrganization"] == "Fenfa"
    assert profile["PayloadIdentifier"] and re.fullmatch(r"[0-9A-F-]{36}", profile["PayloadUUID"])
    row = UDIDNonce.get_by_id(nonce)
    assert (row.variant_id, row.used_at, row.expires_at - row.created_at) == (
        ios_app["variant"]["id"], None, timedelta(seconds=600))
    assert plistlib.loads(get_profile(client, ios_app["variant"]["id"]).data)["PayloadUUID"] != profile["PayloadUUID"]


def test_nonce_cookie_attributes_follow_the_scheme(client, ios_app):
    cookie = get_profile(client, ios_app["variant"]["id"]).headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= attributes and "secure" not in attributes
    assert "Max-Age=600" in cookie and "Path=/udid" in cookie and "SameSite=Lax" in cookie
    secure = get_profile(client, ios_app["variant"]["id"], base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure
    profile = plistlib.loads(get_profile(client, ios_app["variant"]["id"], base_url="https://localhost").data)
    assert profile["PayloadContent"]["URL"].startswith("https://localhost/udid/callback?nonce=")


def test_profile_names_the_saved_organization(api, client, ios_app):
    api.data("PUT", "/admin/api/settings", json={"organization": "Example Corp"})
    assert plistlib.loads(get_profile(client, ios_app["variant"]["id"]).data)["PayloadOrganization"] == "Example Corp"


@pytest.fixture
def signing_files(tmp_path):
    """A CA and a leaf signed by it; the cert file holds the leaf first, then the CA."""
    ca = make_certificate("Fenfa Test CA", ca=True)
    leaf = make_certificate("dist.example.test", issuer=ca)
    (tmp_path / "chain.pem").write_bytes(pem(leaf[0]) + pem(ca[0]))
    (tmp_path / "leaf.key").write_bytes(leaf[1].private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.TraditionalOpenSSL,
                                                              serialization.NoEncryption()))
    return {"cert": tmp_path / "chain.pem", "key": tmp_path / "leaf.key", "leaf": leaf[0], "ca": ca[0]}


def test_profile_is_cms_signed_when_a_certificate_is_configured(ios_app, make_app, signing_files, tmp_path):
    app = make_app(udid_signing_cert=str(signing_files["cert"]), udid_signing_key=str(signing_files["key"]))
    client = app.test_client()
    response = get_profile(client, ios_app["variant"]["id"])
    assert response.headers["Content-Type"] == "application/x-apple-aspen-config"
    body = response.data
    assert body[:1] == b"\x30" and b"<?xml" in body

    signed_data = cms.ContentInfo.load(body)["content"]
    content = signed_data["encap_content_info"]["content"].native
    profile = plistlib.loads(content)
    assert profile["PayloadContent"]["Challenge"] == nonce_of(response)
    assert b"\r\n" not in content
    certificates = {certificate.chosen.dump() for certificate in signed_data["certificates"]}
    leaf_der = signing_files["leaf"].public_bytes(serialization.Encoding.DER)
    assert certificates == {leaf_der, signing_files["ca"].public_bytes(serialization.Encoding.DER)}
    signer = signed_data["signer_infos"][0]
    assert signer["sid"].chosen["serial_number"].native == signing_files["leaf"].serial_number
    signed_attributes = signer["signed_attrs"].dump()
    signing_files["leaf"].public_key().verify(  # raises when the signature is wrong
        signer["signature"].native, b"\x31" + signed_attributes[1:], ec.ECDSA(hashes.SHA256()))

    (tmp_path / "signed.mobileconfig").write_bytes(body)
    verified = subprocess.run([openssl(), "smime", "-verify", "-noverify", "-inform", "DER",
                               "-in", tmp_path / "signed.mobileconfig"], capture_output=True, check=True)
    assert verified.stdout == content


def test_a_key_that_does_not_match_the_certificate_is_a_500(ios_app, make_app, signing_files, tmp_path):
    other = make_certificate("other")[1]
    (tmp_path / "other.key").write_bytes(other.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    app = make_app(udid_signing_cert=str(signing_files["cert"]), udid_signing_key=str(tmp_path / "other.key"))
    client = app.test_client()
    response = client.get(f"/udid/profile.mobileconfig?variant={ios_app['variant']['id']}")
    assert_error(response, 500, "INTERNAL_ERROR", "signing certificate is misconfigured")
    assert UDIDNonce.select().count() == 0


@pytest.mark.parametrize("envelope", ["der", "ber-chunked", "openssl-streamed"])
def test_callback_registers_the_device_and_redirects_with_a_token(client, ios_app, envelope, tmp_path):
    variant_id = ios_app["variant"]["id"]
    nonce = nonce_of(get_profile(client, variant_id))
    content = device_plist(OTHER_UDID, nonce, NOTES="x" * 9000)
    body = {"der": der_body, "ber-chunked": ber_chunked_body,
            "openssl-streamed": lambda data: openssl_streamed_body(data, tmp_path)}[envelope](content)
    if envelope != "der":
        with pytest.raises(ExpatError):  # chunk headers inside the XML break byte slicing
            plistlib.loads(body[body.index(b"<?xml"):body.index(b"</plist>") + 8])

    response = post_callback(client, nonce, body)

    token = token_from(response)
    device = IOSDevice.get(IOSDevice.udid == OTHER_UDID)
    assert (device.device_name, device.model, device.os_version, device.serial) == (
        "Anna's iPhone", "iPhone14,2", "21G93", "F2LXK0ABCD12")
    assert re.fullmatch(r"dev_[0-9a-f]{16}", device.id)
    assert [binding.variant_id for binding in device.bindings] == [variant_id]
    assert UDIDNonce.get_by_id(nonce).used_at is not None
    assert OTHER_UDID not in response.headers["Location"] and token.startswith(device.id + ".")


def test_a_second_registration_only_refreshes_last_seen_and_never_rewrites_the_device(client, ios_app):
    variant_id = ios_app["variant"]["id"]
    token_from(register(client, variant_id, OTHER_UDID))
    known = IOSDevice.get()
    token_from(register(client, variant_id, OTHER_UDID, DEVICE_NAME="Renamed", VERSION="22A3354", SERIAL="FORGED",
                        PRODUCT="iPhone99,9"))
    device = IOSDevice.get()
    assert IOSDevice.select().count() == 1 and DeviceBinding.select().count() == 1
    assert (device.device_name, device.os_version, device.serial, device.model) == (
        known.device_name, known.os_version, known.serial, known.model)
    assert device.last_seen_at > known.last_seen_at


def test_the_same_device_binds_once_per_variant(api, client, ios_app):
    second = api.create_variant(ios_app["product"]["id"], platform="ios", display_name="iPad",
                                identifier=BUNDLE_IDS[BASE_IPA])
    token_from(register(client, ios_app["variant"]["id"], OTHER_UDID))
    token_from(register(client, second["id"], OTHER_UDID))
    assert IOSDevice.select().count() == 1
    assert sorted(b.variant_id for b in DeviceBinding.select()) == sorted([ios_app["variant"]["id"], second["id"]])


def test_reused_expired_unknown_and_missing_nonces_are_refused(client, ios_app):
    variant_id = ios_app["variant"]["id"]
    nonce = nonce_of(get_profile(client, variant_id))
    token_from(post_callback(client, nonce, der_body(device_plist(OTHER_UDID, nonce))))
    assert_error(post_callback(client, nonce, der_body(device_plist(OTHER_UDID, nonce))), 400, "BAD_REQUEST",
                 "nonce")
    expired = nonce_of(get_profile(client, variant_id))
    UDIDNonce.update(expires_at=utcnow() - timedelta(seconds=1)).where(UDIDNonce.nonce == expired).execute()
    assert_error(post_callback(client, expired, der_body(device_plist(OTHER_UDID, expired))), 400, "BAD_REQUEST",
                 "nonce")
    for unknown in ("not-a-nonce", ""):
        assert_error(post_callback(client, unknown, der_body(device_plist(OTHER_UDID, unknown))), 400,
                     "BAD_REQUEST", "nonce")
    assert DeviceBinding.select().count() == 1


@pytest.mark.parametrize("udid_value", [
    "0" * 39, "0" * 41, "g" * 40, "00008030-001A2B3C4D5E6F7", "00008030-001A2B3C4D5E6F700", "0000803-0001A2B3C4D5E6F70",
    "00008030_001A2B3C4D5E6F70", "-" * 25, "00008030-001A2B3C-4D5E6F70",
])
def test_values_that_do_not_look_like_udids_are_400(client, ios_app, udid_value):
    response = register(client, ios_app["variant"]["id"], udid_value)
    assert response.status_code == 400 and "no valid UDID" in response.json["error"]["message"]
    assert IOSDevice.select().count() == 0


@pytest.mark.parametrize("udid_value", ["0123456789abcdef0123456789ABCDEF01234567", OTHER_UDID])
def test_both_udid_forms_are_accepted(client, ios_app, udid_value):
    token_from(register(client, ios_app["variant"]["id"], udid_value))
    assert IOSDevice.get().udid == udid_value


@pytest.mark.parametrize("make_body, message", [
    (lambda nonce: b"", "signed plist"),
    (lambda nonce: b"garbage" * 10, "signed plist"),
    (lambda nonce: device_plist(OTHER_UDID, nonce), "signed plist"),
    (lambda nonce: der_body(b"not a plist"), "signed plist"),
    (lambda nonce: der_body(device_plist(OTHER_UDID, nonce))[:200], "signed plist"),
    (lambda nonce: der_body(plistlib.dumps([OTHER_UDID])), "not a dictionary"),
    (lambda nonce: der_body(device_plist(None, nonce)), "no valid UDID"),
    (lambda nonce: der_body(device_plist("", nonce)), "no valid UDID"),
    (lambda nonce: der_body(device_plist(b"bytes-udid", nonce)), "no valid UDID"),
    (lambda nonce: der_body(device_plist("<script>", nonce)), "no valid UDID"),
    (lambda nonce: der_body(device_plist(OTHER_UDID, "another-nonce")), "CHALLENGE"),
    (lambda nonce: der_body(device_plist(OTHER_UDID, 12345)), "CHALLENGE"),
], ids=["empty", "garbage", "unsigned-plist", "not-plist", "truncated", "list", "no-udid", "empty-udid",
        "data-udid", "bad-udid", "wrong-challenge", "number-challenge"])
def test_bad_callback_bodies_are_400_and_keep_the_nonce(client, ios_app, make_body, message):
    nonce = nonce_of(get_profile(client, ios_app["variant"]["id"]))
    assert_error(post_callback(client, nonce, make_body(nonce)), 400, "BAD_REQUEST", message)
    assert IOSDevice.select().count() == 0 and UDIDNonce.get_by_id(nonce).used_at is None
    token_from(post_callback(client, nonce, der_body(device_plist(OTHER_UDID, nonce))))


def test_callback_without_challenge_is_accepted(client, ios_app):
    token_from(register(client, ios_app["variant"]["id"], OTHER_UDID, CHALLENGE=None))


def test_callback_bodies_over_64_kib_are_413(client, ios_app):
    nonce = nonce_of(get_profile(client, ios_app["variant"]["id"]))
    body = der_body(device_plist(OTHER_UDID, nonce, NOTES="x" * 70000))
    assert len(body) > 64 * 1024
    assert_error(post_callback(client, nonce, body), 413, "PAYLOAD_TOO_LARGE")
    chunked = client.post(f"/udid/callback?nonce={nonce}", input_stream=io.BytesIO(body),
                          headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert_error(chunked, 413, "PAYLOAD_TOO_LARGE")
    exactly = der_body(device_plist(OTHER_UDID, nonce, NOTES="x" * 60000))
    small_enough = exactly if len(exactly) <= 64 * 1024 else pytest.fail("test body too large")
    streamed = client.post(f"/udid/callback?nonce={nonce}", input_stream=io.BytesIO(small_enough),
                           headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    token_from(streamed)


def test_status_follows_the_nonce_cookie(client, ios_app):
    variant_id = ios_app["variant"]["id"]
    udid_value = adhoc_udid()
    assert client.get(f"/udid/status?variant={variant_id}").json["data"] == {
        "bound": False, "udid": None, "in_profile": None}
    nonce = nonce_of(get_profile(client, variant_id))
    assert client.get(f"/udid/status?variant={variant_id}").json["data"]["bound"] is False
    token_from(post_callback(client, nonce, der_body(device_plist(udid_value, nonce))))

    response = client.get(f"/udid/status?variant={variant_id}")

    assert response.json == {"ok": True, "data": {
        "bound": True, "udid": f"{udid_value[:4]}…{udid_value[-4:]}", "in_profile": True}}
    assert udid_value not in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_status_with_a_token_and_profiles_that_do_not_list_the_device(api, app, client, ios_app):
    variant_id = ios_app["variant"]["id"]
    adhoc_token = token_from(register(client, variant_id, adhoc_udid()))
    other_token = token_from(register(client, variant_id, OTHER_UDID))
    fresh = app.test_client()  # no cookie: the token alone proves the registration

    def status(token):
        return fresh.get(f"/udid/status?variant={variant_id}&udid_token={token}").json["data"]

    assert status(adhoc_token) == {"bound": True, "udid": f"{adhoc_udid()[:4]}…{adhoc_udid()[-4:]}",
                                   "in_profile": True}
    assert status(other_token) == {"bound": True, "udid": "0000…6F70", "in_profile": False}
    device_id, expires, mac = adhoc_token.split(".")
    other_device_id = IOSDevice.get(IOSDevice.udid == OTHER_UDID).id
    forged = [f"{device_id}.{int(expires) + 60}.{mac}", f"{other_device_id}.{expires}.{mac}",
              f"{device_id}.{expires}.{mac[:-1]}{'B' if mac.endswith('A') else 'A'}", "garbage", "a.b.c",
              f"{device_id}.{expires}"]
    for token in forged:
        assert status(token) == {"bound": False, "udid": None, "in_profile": None}, token
    api.upload_release(variant_id, "appstore.ipa", ipa_with_profile(BASE_IPA, APPSTORE_PROFILE))
    assert status(adhoc_token)["in_profile"] is False


def test_enterprise_builds_install_on_every_registered_device(api, client):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="ios", display_name="iPhone",
                                 identifier=BUNDLE_IDS[ENTERPRISE_IPA])
    api.upload_release(variant["id"], ENTERPRISE_IPA)
    token = token_from(register(client, variant["id"], OTHER_UDID))
    assert client.get(f"/udid/status?variant={variant['id']}&udid_token={token}").json["data"]["in_profile"] is True


def test_tokens_expire_and_are_bound_to_their_variant(app, ios_app):
    with app.app_context():
        secret = app.secret_key
        token_from(register(app.test_client(), ios_app["variant"]["id"], OTHER_UDID))
        device = IOSDevice.get()
        token = udid.issue_token(secret, ios_app["variant"]["id"], device, now=1_000_000)
        assert udid.token_device(secret, token, ios_app["variant"]["id"], now=1_000_000 + 3599) == device
        assert udid.token_device(secret, token, ios_app["variant"]["id"], now=1_000_000 + 3601) is None
        assert udid.token_device(secret, token, "var_0000000000000000", now=1_000_000) is None
        assert udid.token_device(b"another secret" * 4, token, ios_app["variant"]["id"], now=1_000_000) is None


@pytest.mark.parametrize("expiry", ["%C2%B2", "%D9%A1%D9%A2", "1" * 5000, "", "-1", "+1", "%201"],
                         ids=["superscript", "arabic-indic", "5000-digits", "empty", "negative", "plus", "space"])
def test_tokens_with_a_non_ascii_or_oversized_expiry_are_ignored(client, ios_app, expiry):
    token = f"dev_x.{expiry}.abc"
    status = client.get(f"/udid/status?variant={ios_app['variant']['id']}&udid_token={token}")
    assert status.status_code == 200, status.get_data(as_text=True)
    assert status.json["data"] == {"bound": False, "udid": None, "in_profile": None}
    page = client.get(f"/products/demo?udid_token={token}", headers={"User-Agent": IPHONE})
    assert page.status_code == 200
    assert 'class="registered"' not in card_html(page.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/udid/profile.mobileconfig", "/udid/status"])
def test_only_published_ios_variants_have_profiles_and_status(api, client, ios_app, path):
    assert_error(client.get(path), 400, "BAD_REQUEST", "variant is required")
    assert_error(client.get(f"{path}?variant=var_0000000000000000"), 404, "NOT_FOUND")
    android = api.create_variant(ios_app["product"]["id"], platform="android", display_name="Android")
    assert_error(client.get(f"{path}?variant={android['id']}"), 404, "NOT_FOUND")
    variant_id = ios_app["variant"]["id"]
    api.data("PUT", f"/admin/api/variants/{variant_id}", json={"published": False})
    assert_error(client.get(f"{path}?variant={variant_id}"), 404, "NOT_FOUND")
    api.data("PUT", f"/admin/api/variants/{variant_id}", json={"published": True})
    api.data("PUT", f"/admin/api/products/{ios_app['product']['id']}", json={"published": False})
    assert_error(client.get(f"{path}?variant={variant_id}"), 404, "NOT_FOUND")
    assert UDIDNonce.select().count() == 0


@pytest.mark.parametrize("kind, shown, installs", [
    ("development", True, True),
    ("ad-hoc", True, True),
    ("app-store", False, False),
    (None, False, True),
    ("enterprise", False, True),
])
def test_register_link_only_where_device_binding_applies(api, client, kind, shown, installs):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="ios", display_name="iPhone", identifier=BUNDLE_IDS[BASE_IPA])
    build = fresh_ipa(BASE_IPA, signed_profile(kind, [OTHER_UDID])) if kind else ipa_with_profile(BASE_IPA, None)
    api.upload_release(variant["id"], "app.ipa", build)
    card = card_html(client.get("/products/demo", headers={"User-Agent": IPHONE}).get_data(as_text=True))
    assert ("/udid/profile.mobileconfig?variant=" in card) is shown
    assert ("Test builds only install on registered devices." in card) is shown
    assert ("Install</a>" in card) is installs
    assert ("Signed for the App Store" in card) is (kind == "app-store")


def test_product_page_notices_a_registered_device(api, client, ios_app):
    variant_id = ios_app["variant"]["id"]
    ready = token_from(register(client, variant_id, adhoc_udid()))
    waiting = token_from(register(client, variant_id, OTHER_UDID))

    def card(token, language="en"):
        response = client.get(f"/products/demo?udid_token={token}",
                              headers={"User-Agent": IPHONE, "Accept-Language": language})
        assert "style=" not in response.get_data(as_text=True) and "script-src 'self'" in response.headers[
            "Content-Security-Policy"]
        return card_html(response.get_data(as_text=True))

    assert "This device is registered." in card(ready) and "ready to install" in card(ready)
    assert "This device is registered." in card(waiting)
    assert "Waiting for a new build that includes this device." in card(waiting)
    assert "ready to install" not in card(waiting)
    assert "此设备已注册" in card(ready, "zh") and "可以安装" in card(ready, "zh")
    assert "正在等待包含此设备的新版本" in card(waiting, "zh")
    device_id, expires, mac = ready.split(".")
    for forged in (f"{device_id}.{expires}.{'A' * len(mac)}", f"{device_id}.{int(expires) + 1}.{mac}", "x"):
        assert "registered" not in card(forged).replace("registered devices", "")
    assert 'class="registered"' not in card("")
    assert adhoc_udid() not in client.get(f"/products/demo?udid_token={ready}").get_data(as_text=True)


def test_with_query_appends_to_an_existing_query():
    assert with_query("https://x.test/products/a?r=rel_1", udid_token="t.1.m") == (
        "https://x.test/products/a?r=rel_1&udid_token=t.1.m")
    assert with_query("https://x.test/products/a", udid_token="a b") == "https://x.test/products/a?udid_token=a+b"
