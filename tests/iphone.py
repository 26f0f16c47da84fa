"""A tester's iPhone as UDID binding sees it: it fetches the Profile Service profile, then posts its
attributes in a CMS envelope signed with its device certificate."""
import plistlib
import re

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from certs import make_certificate


def device_plist(udid_value, nonce, **extra):
    attributes = {"UDID": udid_value, "PRODUCT": "iPhone14,2", "VERSION": "21G93", "SERIAL": "F2LXK0ABCD12",
                  "DEVICE_NAME": "Anna's iPhone", "IMEI": "35 308011 264612 5", "CHALLENGE": nonce, **extra}
    return plistlib.dumps({key: value for key, value in attributes.items() if value is not None})


def der_body(content):
    """What iOS posts: CMS SignedData (definite-length DER) signed with a device certificate."""
    certificate, key = make_certificate("device identity")
    return (pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(certificate, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


def get_profile(client, variant_id, **kwargs):
    response = client.get(f"/udid/profile.mobileconfig?variant={variant_id}", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def nonce_of(response):
    return re.search(r"udid_nonce=([^;]+)", response.headers["Set-Cookie"]).group(1)


def post_callback(client, nonce, body, **kwargs):
    return client.post(f"/udid/callback?nonce={nonce}", data=body, content_type="application/pkcs7-signature",
                       **kwargs)


def register(client, variant_id, udid_value, envelope=der_body, **extra):
    """Download the profile and post the device's answer; returns the callback response."""
    nonce = nonce_of(get_profile(client, variant_id))
    return post_callback(client, nonce, envelope(device_plist(udid_value, nonce, **extra)))
