"""Control characters never reach a plist or a profile: refused at the API's edges, removed from what
packages say about themselves, and removed again when a plist is written."""
import io
import plistlib
import zipfile

import pytest

from fenfa_lib.models import Product, Release

from helpers import assert_error


def ipa_named(display_name):
    """A minimal IPA whose binary Info.plist carries `display_name`."""
    plist = plistlib.dumps({"CFBundleIdentifier": "com.example.control", "CFBundleShortVersionString": "1.0",
                            "CFBundleVersion": "1", "CFBundleDisplayName": display_name,
                            "MinimumOSVersion": "15.0\x07"}, fmt=plistlib.FMT_BINARY)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("Payload/Control.app/Info.plist", plist)
        archive.writestr("Payload/Control.app/Control", b"\xcf\xfa\xed\xfe")
    return out.getvalue()


@pytest.mark.parametrize("path_kind,body,field", [
    ("product", {"name": "Bad\x01Name", "slug": "bad"}, "name"),
    ("product", {"name": "Line\nbreak", "slug": "bad"}, "name"),
    ("product", {"name": "Fine", "slug": "fine", "description": "bell\x07"}, "description"),
    ("variant", {"platform": "ios", "display_name": "i\x1bOS", "identifier": "com.example.x"}, "display_name"),
    ("settings", {"organization": "Example\x00Ltd"}, "organization"),
    ("settings", {"organization": "Example\u0085Ltd"}, "organization"),
])
def test_control_characters_are_refused_at_the_edges(api, path_kind, body, field):
    if path_kind == "variant":
        path, method = f"/admin/api/products/{api.create_product()['id']}/variants", "POST"
    elif path_kind == "settings":
        path, method = "/admin/api/settings", "PUT"
    else:
        path, method = "/admin/api/products", "POST"
    assert_error(api.call(method, path, json=body), 400, "BAD_REQUEST", f"{field} must not contain control characters")


def test_a_description_keeps_its_line_breaks_and_tabs(api):
    product = api.create_product(description="First line\n\tindented\r\nlast")
    assert product["description"] == "First line\n\tindented\r\nlast"


def test_names_with_control_characters_in_a_package_are_cleaned_at_ingest(api, client):
    variant = api.create_variant(api.create_product()["id"], platform="ios", identifier="com.example.control")
    release = api.upload_release(variant["id"], "control.ipa", ipa_named("Con\x01trol\x1f App"))
    stored = Release.get_by_id(release["id"])
    assert (stored.display_name, stored.min_os) == ("Control App", "15.0")
    manifest = client.get(f"/ios/{release['id']}/manifest.plist")
    assert manifest.status_code == 200
    assert plistlib.loads(manifest.data)["items"][0]["metadata"]["title"] == "Control App"


def test_plists_are_written_without_control_characters_that_older_rows_hold(api, client):
    variant = api.create_variant(api.create_product()["id"], platform="ios", identifier="com.example.control")
    release = api.upload_release(variant["id"], "control.ipa", ipa_named("Control"))
    Release.update(display_name="Old\x01Row").where(Release.id == release["id"]).execute()
    Product.update(name="Old\x02Product").execute()
    api.data("PUT", "/admin/api/settings", json={"organization": "Fine Ltd"})
    manifest = client.get(f"/ios/{release['id']}/manifest.plist")
    assert manifest.status_code == 200
    assert plistlib.loads(manifest.data)["items"][0]["metadata"]["title"] == "OldRow"
    profile = client.get(f"/udid/profile.mobileconfig?variant={variant['id']}")
    assert profile.status_code == 200
    assert plistlib.loads(profile.data)["PayloadDisplayName"] == "OldProduct device registration"
