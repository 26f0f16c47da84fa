"""Smart upload and parse-only: the package decides where a build goes."""
import io
import zipfile

import pytest

from fenfa_lib.models import Product, ProvisioningProfile, Release, Variant
from fenfa_lib.packages.images import image_type, png_size

from corpus import require_samples
from helpers import ADMIN_TOKEN, assert_error

SMART = "/admin/api/smart-upload"


def sample_bytes(name):
    return (require_samples() / name).read_bytes()


def test_smart_upload_creates_product_and_variant_then_reuses_them(api):
    content = sample_bytes("ios-uncrackable2-xml-plist-cgbi-icons.ipa")
    first = api.upload(None, "UnCrackable.ipa", content, path=SMART, token=ADMIN_TOKEN)
    assert first.status_code == 201, first.get_data(as_text=True)
    app = first.json["data"]["app"]
    assert (app["platform"], app["bundle_id"]) == ("ios", "sg.vp.UnCrackable-2")
    product = Product.get_by_id(app["product_id"])
    assert (product.name, product.slug) == ("UnCrackable2", "uncrackable2")
    variant = Variant.get_by_id(app["variant_id"])
    assert (variant.platform, variant.identifier, variant.installer_type) == ("ios", "sg.vp.UnCrackable-2", "ipa")

    second = api.upload(None, "UnCrackable.ipa", content, path=SMART, version="1.0.1", token=ADMIN_TOKEN)
    assert second.json["data"]["app"]["variant_id"] == app["variant_id"]
    assert (Product.select().count(), Variant.select().count(), Release.select().count()) == (1, 1, 2)


def test_smart_upload_names_the_product_after_the_app(api):
    response = api.upload(None, "android-a2dpvol-localized-label.apk", path=SMART, token=ADMIN_TOKEN)
    product = Product.get_by_id(response.json["data"]["app"]["product_id"])
    assert (product.name, product.slug) == ("A2DP Volume", "a2dp-volume")
    assert Variant.get(Variant.product == product).platform == "android"


def test_smart_upload_with_a_variant_id_behaves_like_upload(api):
    variant = api.create_variant(api.create_product()["id"], identifier="com.politedroid")
    response = api.upload(variant["id"], "android-politedroid-minsdk3-tiny.apk", path=SMART, token=ADMIN_TOKEN)
    assert response.json["data"]["app"]["variant_id"] == variant["id"]
    assert Product.select().count() == 1


def test_smart_upload_of_a_desktop_file_needs_a_variant(api, data_dir):
    assert_error(api.upload(None, "setup.exe", b"MZ" + b"\0" * 64, path=SMART, token=ADMIN_TOKEN), 400, "BAD_REQUEST",
                 "variant_id is required")
    assert Product.select().count() == 0


@pytest.mark.parametrize("name", ["ipa-not-a-zip.ipa", "ipa-no-info-plist.ipa", "ipa-empty-payload.ipa"])
def test_smart_upload_of_a_broken_package_creates_nothing(api, data_dir, name):
    response = api.upload(None, f"invalid/{name}", path=SMART, token=ADMIN_TOKEN)
    assert_error(response, 400, "BAD_REQUEST")
    assert (Product.select().count(), Variant.select().count(), Release.select().count()) == (0, 0, 0)
    assert list((data_dir / "tmp").iterdir()) == []


def test_smart_upload_and_parse_need_a_token(api):  # what an upload token may do: tests/test_ci_uploads.py
    for path in ("/admin/api/smart-upload", "/admin/api/parse-app"):
        assert_error(api.upload(None, "a.apk", b"x", path=path, token="nope"), 401, "UNAUTHORIZED")
        assert_error(api.upload(None, "a.apk", b"x", path=path, token=""), 401, "UNAUTHORIZED")


def test_parse_app_reports_metadata_and_stores_nothing(api, data_dir):
    response = api.upload(None, "ios-ipad-only-cgbi-icons.ipa", path="/admin/api/parse-app", token=ADMIN_TOKEN)
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.json["data"]
    assert (data["identifier"], data["version"], data["build"], data["min_os"]) == (
        "com.icyleaf.bundle", "1.0", "1", "9.3")
    assert data["device_family"] == ["ipad"]
    assert data["has_icon"] is True
    assert data["variant_id"] is None
    assert (Product.select().count(), Release.select().count()) == (0, 0)
    assert not (data_dir / "uploads").exists() or list((data_dir / "uploads").rglob("*")) == []
    assert list((data_dir / "tmp").iterdir()) == []


def test_converted_cgbi_icon_is_stored_beside_the_release(api, data_dir):
    response = api.upload(None, "ios-uncrackable2-xml-plist-cgbi-icons.ipa", path=SMART, token=ADMIN_TOKEN)
    release = Release.get_by_id(response.json["data"]["release"]["id"])
    icon = (data_dir / "uploads" / release.icon_key).read_bytes()
    assert image_type(icon) == "png" and icon[12:16] == b"IHDR"
    assert png_size(icon)[0] >= 120


def with_profile(ipa_bytes, profile_bytes):
    """The sample IPA with an ad-hoc profile (it lists devices) as its embedded.mobileprovision."""
    source = zipfile.ZipFile(io.BytesIO(ipa_bytes))
    app_dir = next(name for name in source.namelist() if name.endswith(".app/Info.plist")).rsplit("/", 1)[0]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if not item.filename.endswith("embedded.mobileprovision"):
                target.writestr(item, source.read(item))
        target.writestr(f"{app_dir}/embedded.mobileprovision", profile_bytes)
    return out.getvalue()


def test_profile_devices_are_shown_to_admins_only(api, client):
    ipa = with_profile(sample_bytes("ios-iphone-binary-plist-no-icons.ipa"),
                       sample_bytes("ios-profile-adhoc.mobileprovision"))
    release_id = api.upload(None, "adhoc.ipa", ipa, path=SMART, token=ADMIN_TOKEN).json["data"]["release"]["id"]
    profile = ProvisioningProfile.get(ProvisioningProfile.release == release_id)
    assert profile.kind == "ad-hoc" and profile.devices
    admin_view = api.data("GET", f"/admin/api/products/{Product.get().id}")
    summary = admin_view["variants"][0]["releases"][0]["provisioning_profile"]
    assert (summary["type"], summary["device_count"], summary["devices"]) == ("ad-hoc", len(profile.devices),
                                                                            profile.devices)
    public = client.get(f"/api/products/{Product.get().slug}").get_data(as_text=True)
    for secret in [profile.team_id, *profile.devices]:
        assert secret not in public


def test_parse_app_shows_the_profile_as_the_admin_view_will(api):
    ipa = with_profile(sample_bytes("ios-iphone-binary-plist-no-icons.ipa"),
                       sample_bytes("ios-profile-adhoc.mobileprovision"))
    parsed = api.upload(None, "adhoc.ipa", ipa, path="/admin/api/parse-app", token=ADMIN_TOKEN).json["data"]
    api.upload(None, "adhoc.ipa", ipa, path=SMART, token=ADMIN_TOKEN)
    admin_view = api.data("GET", f"/admin/api/products/{Product.get().id}")
    stored = admin_view["variants"][0]["releases"][0]["provisioning_profile"]
    assert parsed["provisioning_profile"] == stored
    assert (stored["type"], stored["device_count"]) == ("ad-hoc", len(stored["devices"]))
