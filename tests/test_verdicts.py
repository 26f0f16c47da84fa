"""A tester page that never offers an install that cannot work: the install verdict per release and visitor,
through the page's HTML and GET /api/products/:slug, with the sample builds."""
import re

import pytest

from corpus import require_samples
from iphone import register
from profiles import ipa_with_profile, signed_profile

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
IPAD = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
           "Mobile Safari/537.36")
WECHAT = IPHONE + " MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
UDID = "00008030-001A2B3C4D5E6F70"
OTHER_UDID = "00008101-000A1B2C3D4E5F60"
IPAD_ONLY = "ios-ipad-only-cgbi-icons.ipa"
TVOS = "tvos-bilibililive.ipa"
IPHONE_IPA = "ios-iphone-binary-plist-no-icons.ipa"


def page(client, user_agent, path="/products/demo"):
    response = client.get(path, headers={"User-Agent": user_agent})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def own_card(html, platform):
    """The visitor's own card of `platform` (not one under "Other platforms")."""
    mine = html.split('<details class="other-platforms"')[0]
    return re.search(rf'<article class="card[^"]*" data-platform="{platform}">(.*?)</article>', mine, re.S).group(1)


def releases_json(client, user_agent):
    data = client.get("/api/products/demo", headers={"User-Agent": user_agent}).json["data"]
    return {release["id"]: release for variant in data["variants"] for release in variant["releases"]}


def ios_variant(api, identifier):
    return api.create_variant(api.create_product()["id"], platform="ios", display_name="iOS", identifier=identifier)


@pytest.mark.parametrize("user_agent,installs", [(IPHONE, False), (IPAD, True)], ids=["iphone", "ipad"])
def test_an_ipad_only_build_installs_on_an_ipad_only(api, client, user_agent, installs):
    variant = ios_variant(api, "com.icyleaf.bundle")
    release = api.upload_release(variant["id"], "ipad.ipa", ipa_with_profile(IPAD_ONLY, signed_profile("enterprise")))
    card = own_card(page(client, user_agent), "ios")
    assert ("Install</a>" in card) is installs
    assert ("This build is for iPad only." in card) is not installs
    verdict = releases_json(client, user_agent)[release["id"]]
    assert (verdict["installable"], verdict["reason"]) == (installs, None if installs else "ipad_only")


def test_a_tvos_build_is_never_offered_on_an_iphone_or_ipad(api, client):
    variant = ios_variant(api, "com.etan.tv.BilibiliLive.tvOS")
    release = api.upload_release(variant["id"], "tv.ipa", ipa_with_profile(TVOS, signed_profile("enterprise")))
    for user_agent in (IPHONE, IPAD):
        card = own_card(page(client, user_agent), "ios")
        assert "Install</a>" not in card and "This build is for Apple TV." in card
        assert releases_json(client, user_agent)[release["id"]]["reason"] == "tv_only"


def test_an_app_store_build_points_to_testflight(api, client):
    variant = ios_variant(api, "com.icyleaf.AppInfoDemo")
    api.upload_release(variant["id"], "store.ipa", ipa_with_profile(IPHONE_IPA, signed_profile("app-store")))
    card = own_card(page(client, IPHONE), "ios")
    assert "Install</a>" not in card and "install it from TestFlight or the App Store" in card
    assert 'class="card recommended"' not in page(client, IPHONE)


def test_an_expired_profile_says_when_it_expired(api, client):
    variant = ios_variant(api, "com.icyleaf.AppInfoDemo")
    release = api.upload_release(variant["id"], "old.ipa", (require_samples() / IPHONE_IPA).read_bytes())
    card = own_card(page(client, IPHONE), "ios")
    assert "Install</a>" not in card
    expired = re.search(r"provisioning profile expired on (\d{4}-\d{2}-\d{2})", card)
    assert expired and expired.group(1) < "2026-12-01"
    assert releases_json(client, IPHONE)[release["id"]]["reason"] == "profile_expired"


def test_the_newest_installable_build_is_offered_and_the_newest_says_why_not(api, client):
    variant = ios_variant(api, "com.icyleaf.AppInfoDemo")
    good = api.upload_release(variant["id"], "good.ipa", ipa_with_profile(IPHONE_IPA, signed_profile("enterprise")),
                              version="1.0")
    expired = ipa_with_profile(IPHONE_IPA, signed_profile("enterprise", days=-3))
    api.upload_release(variant["id"], "expired.ipa", expired, version="2.0")
    card = own_card(page(client, IPHONE), "ios")
    assert f'data-release="{good["id"]}">Install</a>' in card
    assert "The newest build cannot be installed here: This build&#39;s provisioning profile expired" in card


def token_for(client, variant_id, udid):
    response = register(client, variant_id, udid)
    assert response.status_code == 301
    return re.search(r"udid_token=([^&]+)", response.headers["Location"]).group(1)


def test_a_bound_device_missing_from_the_profile_waits_for_a_build_that_includes_it(api, client):
    variant = ios_variant(api, "com.icyleaf.AppInfoDemo")
    api.upload_release(variant["id"], "adhoc.ipa", ipa_with_profile(IPHONE_IPA, signed_profile("ad-hoc", [UDID])))
    listed, missing = token_for(client, variant["id"], UDID), token_for(client, variant["id"], OTHER_UDID)
    assert "Install</a>" in own_card(page(client, IPHONE, f"/products/demo?udid_token={listed}"), "ios")
    card = own_card(page(client, IPHONE, f"/products/demo?udid_token={missing}"), "ios")
    assert "Install</a>" not in card and "Waiting for a build that includes this device." in card


def test_an_aab_is_never_recommended_while_an_apk_of_the_variant_installs(api, client):
    variant = api.create_variant(api.create_product()["id"], platform="android", identifier="com.icyleaf.appinfodemo")
    apk = api.upload_release(variant["id"], "android-appinfodemo-obfuscated-res-adaptive.apk")
    api.upload_release(variant["id"], "android-appinfodemo.aab")
    html = page(client, ANDROID)
    card = own_card(html, "android")
    assert f'data-release="{apk["id"]}">Download</a>' in card
    assert "Android App Bundle (.aab): it cannot be installed directly" in card  # why the newest is not offered
    assert re.findall(r'class="card recommended" data-platform="(\w+)"', html) == ["android"]


def test_a_wear_os_build_says_it_installs_on_a_watch(api, client):
    product_id = api.create_product()["id"]
    variant = api.create_variant(product_id, platform="android", identifier="com.icyleaf.appinfoweardemo")
    release = api.upload_release(variant["id"], "android-wear-appinfoweardemo.apk")
    card = own_card(page(client, ANDROID), "android")
    assert "installs on a watch" in card and "button primary" not in card
    assert releases_json(client, ANDROID)[release["id"]]["reason"] == "watch"


def test_other_platforms_are_collapsed_below_without_primary_buttons(client, shop):
    html = page(client, ANDROID)
    mine, others = html.split('<details class="other-platforms"')
    assert re.findall(r'data-platform="(\w+)"', mine) == ["android"]
    assert 'data-platform="ios"' in others and "button primary" not in others.split("</details>")[0]
    assert "/udid/profile.mobileconfig" not in html  # registering a device is for iOS visitors only
    assert "/udid/profile.mobileconfig" in page(client, IPHONE)


def test_an_iphone_over_http_is_told_that_installing_needs_https(api, client, shop):
    assert "Installing on iPhone and iPad needs an https:// address" in page(client, IPHONE)
    assert "needs an https:// address" not in page(client, ANDROID)
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://apps.example.com"})
    assert "needs an https:// address" not in page(client, IPHONE)


@pytest.mark.parametrize("marker", ["MicroMessenger/8.0.47", "QQ/9.0.1", "DingTalk/7.5.0", "Lark/7.1.0"])
def test_in_app_browsers_are_told_to_open_the_page_in_the_system_browser(client, shop, marker):
    assert "open this page in Safari or your browser" in page(client, f"{IPHONE} {marker}")
    assert "open this page in Safari" not in page(client, IPHONE)


def test_a_channel_filters_the_releases(api, client, shop):
    variant_id = shop["variants"]["windows"]["id"]
    beta = api.upload_release(variant_id, "beta.exe", b"MZ" + b"\0" * 100, channel="beta", version="9.0-beta")
    windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    assert f'data-release="{beta["id"]}"' in own_card(page(client, windows), "windows")
    filtered = page(client, windows, "/products/demo?channel=stable")
    assert "Showing the stable channel only." in filtered and beta["id"] not in filtered
    assert f'data-release="{beta["id"]}"' in own_card(page(client, windows, "/products/demo?channel=beta"), "windows")


def test_the_page_has_open_graph_tags(client, shop):
    html = page(client, IPHONE)
    assert '<meta property="og:title" content="Demo App">' in html
    assert '<meta property="og:description" content="Builds for testers">' in html
    assert f'<meta property="og:image" content="http://localhost/icons/{shop["releases"]["ios"]["id"]}.png">' in html


def test_changelogs_render_a_safe_markdown_subset(api, client):
    variant = api.create_variant(api.create_product()["id"], platform="windows")
    changelog = ("- **Faster** start\n- Fixes `crash`\n\n[notes](https://example.com/notes) "
                 "[bad](javascript:alert(1)) <img src=x onerror=alert(1)>")
    api.upload_release(variant["id"], "setup.exe", b"MZ" + b"\0" * 100, changelog=changelog)
    html = page(client, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    assert "<li><strong>Faster</strong> start</li>" in html and "<code>crash</code>" in html
    assert '<a href="https://example.com/notes" rel="nofollow noopener">notes</a>' in html
    assert 'href="javascript' not in html and "<img src=x" not in html and "&lt;img src=x" in html


CHROMEOS = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) Chrome/126.0 Safari/537.36"


@pytest.mark.parametrize("user_agent", ["curl/8.0", CHROMEOS])
def test_a_device_that_cannot_be_told_gets_every_download(client, shop, user_agent):
    html = page(client, user_agent)
    assert f'data-release="{shop["releases"]["windows"]["id"]}">Download</a>' in html
    assert "For another kind of device." not in html
    assert releases_json(client, user_agent)[shop["releases"]["windows"]["id"]]["installable"] is True


def test_a_vision_pro_build_is_not_offered_on_an_iphone():
    from fenfa_lib.models import Release
    from fenfa_lib.packages.ipa import _device_family
    from fenfa_lib.verdict import install_verdict, visitor_from

    families = _device_family({"UIDeviceFamily": [7], "CFBundleSupportedPlatforms": ["XROS"]})
    assert families == ["vision"]
    release = Release(metadata={"package_type": "ipa", "device_family": families}, min_os="1.0")
    verdict = install_verdict(release, "ios", None, visitor_from(IPHONE, "ios"))
    assert (verdict.installable, verdict.reason) == (False, "vision_only")
