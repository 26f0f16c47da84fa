"""The public side: product pages and their JSON, QR codes, iOS manifests and icons."""
import json
import plistlib
import re

import pytest
import zxingcpp
from markupsafe import escape
from PIL import Image

from fenfa_lib.web.product_page import human_size

from corpus import icon_size, png_pixels
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, assert_error, make_apk, manifest
from shop import ANDROID_SAMPLE, EXE, SCRIPT

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
IPAD = "Mozilla/5.0 (iPad; CPU OS 12_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15"
LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
SHOP_PLATFORMS = ["windows", "macos", "android", "ios", "linux"]  # the shop's variants, in admin order
VISITORS = {"windows": WINDOWS, "macos": MAC, "android": ANDROID, "ios": IPHONE, "linux": LINUX}


def page(client, path="/products/demo", user_agent=WINDOWS, **headers):
    response = client.get(path, headers={"User-Agent": user_agent, **headers})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def card_platforms(html):
    return re.findall(r'<article class="card[^"]*" data-platform="(\w+)"', html)


def card_html(html, platform):
    """The HTML of one variant card."""
    return re.search(rf'data-platform="{platform}">(.*?)</article>', html, re.S).group(1)


def test_landing_page_is_small_and_lists_no_products(client, shop):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Fenfa" in html and "Demo App" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("platform", SHOP_PLATFORMS)
def test_product_page_shows_each_card_with_its_release(client, shop, platform):
    html = page(client, user_agent=VISITORS[platform])  # the primary button is for the visitor's own platform
    assert sorted(card_platforms(html)) == sorted(SHOP_PLATFORMS)
    release, card = shop["releases"][platform], card_html(html, platform)
    assert f"<h2>{escape(shop['variants'][platform]['display_name'])}</h2>" in card
    assert re.search(rf'<a class="button primary" href="[^"]*{release["id"]}[^"]*" data-release="{release["id"]}">',
                     card)
    assert f"<dt>Released</dt><dd>{release['created_at'][:10]}</dd>" in card
    if release["version"]:
        assert f"<dd>{release['version']} <span class=\"muted\">(build {release['build']})</span></dd>" in card


def test_product_page_shows_the_product_and_its_ios_and_android_cards_in_detail(client, shop):
    html = page(client, user_agent=IPHONE)
    ios, android = shop["releases"]["ios"], shop["releases"]["android"]
    assert "<h1>Demo App</h1>" in html and "Builds for testers" in html
    assert f'<img class="app-icon" src="/icons/{ios["id"]}.png"' in html
    ios_card = card_html(html, "ios")
    assert "iPhone &amp; iPad" in ios_card
    assert "1.0 <span class=\"muted\">(build 1)</span>" in ios_card
    assert human_size(ios["size_bytes"]) in ios_card and "iOS 8.0 or later" in ios_card
    assert ios["created_at"][:10] in ios_card
    install = ("itms-services://?action=download-manifest&amp;url=http%3A%2F%2Flocalhost%2Fios%2F"
               f"{ios['id']}%2Fmanifest.plist")
    assert f'href="{install}" data-release="{ios["id"]}">Install</a>' in ios_card
    assert f'href="/udid/profile.mobileconfig?variant={shop["variants"]["ios"]["id"]}"' in ios_card
    assert "<p>First line<br />\nSecond line</p>" in ios_card  # the changelog as Markdown
    android_card = card_html(html, "android")
    assert f'href="http://localhost/d/{android["id"]}" data-release="{android["id"]}">Download</a>' in android_card
    assert "Android 1.5 (API 3) or later" in android_card and "itms-services" not in android_card
    assert '<svg viewBox="0 0 ' in html


@pytest.mark.parametrize("user_agent,first", [
    (IPHONE, "ios"), (IPAD, "ios"), (ANDROID, "android"), (WINDOWS, "windows"), (MAC, "macos"),
    (LINUX, "linux"), ("curl/8.0", None),
])
def test_the_visitors_platform_comes_first(client, shop, user_agent, first):
    html = page(client, user_agent=user_agent)
    expected = [first] + [p for p in SHOP_PLATFORMS if p != first] if first else SHOP_PLATFORMS
    assert card_platforms(html) == expected
    assert re.findall(r'class="card recommended" data-platform="(\w+)"', html) == ([first] if first else [])


def test_r_selects_an_older_release_of_the_same_product(api, client, shop):
    android_id = shop["variants"]["android"]["id"]
    old = shop["releases"]["android"]
    new = api.upload_release(android_id, ANDROID_SAMPLE, version="2.0", build="5")
    card = card_html(page(client), "android")
    assert f'data-release="{new["id"]}"' in card and ">2.0 <" in card
    assert f'href="http://localhost/products/demo?r={old["id"]}">1.3 (4)</a>' in card
    card = card_html(page(client, f"/products/demo?r={old['id']}"), "android")
    assert f'data-release="{old["id"]}"' in card
    assert f'href="http://localhost/products/demo?r={new["id"]}">2.0 (5)</a> <span class="channel">latest' in card
    other = api.create_product(name="Other", slug="other")
    foreign = api.upload_release(api.create_variant(other["id"], platform="windows")["id"], "x.exe", EXE)
    for selector in (foreign["id"], "rel_0000000000000000", "<b>"):
        assert f'data-release="{new["id"]}"' in card_html(page(client, f"/products/demo?r={selector}"), "android")


def test_names_descriptions_and_changelogs_are_escaped(api, client):
    product = api.create_product(name=f"Evil {SCRIPT}", slug="evil", description=SCRIPT)
    variant = api.create_variant(product["id"], platform="windows", display_name=SCRIPT)
    api.upload_release(variant["id"], "setup.exe", EXE, changelog=f"{SCRIPT}\nline two", version="1<b>")
    html = page(client, "/products/evil")
    assert "<script>window" not in html
    # Title, heading, description, variant name, changelog, and the Open Graph title and descriptions.
    assert html.count("&lt;script&gt;window.pwned=1&lt;/script&gt;") == 8
    assert "1&lt;b&gt;" in html and "<br />\nline two</p>" in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/product.js" defer>']
    assert SCRIPT in json.dumps(client.get("/api/products/evil").json)


def test_unknown_and_unpublished_products_are_html_404s(api, client, shop):
    product_id = shop["product"]["id"]
    for path in ("/products/nope", "/products/nope/qrcode.svg"):
        response = client.get(path)
        assert (response.status_code, response.mimetype) == (404, "text/html")
        assert "no app at this address" in response.get_data(as_text=True)
    assert_error(client.get("/api/products/nope"), 404, "NOT_FOUND", "nope")
    api.data("PUT", f"/admin/api/apps/{product_id}/unpublish")
    for path in ("/products/demo", "/products/demo/qrcode.svg"):
        assert client.get(path).status_code == 404
    assert_error(client.get("/api/products/demo"), 404, "NOT_FOUND")
    api.data("PUT", f"/admin/api/apps/{product_id}/publish")
    api.data("PUT", f"/admin/api/apps/{shop['variants']['ios']['id']}/unpublish")
    assert card_platforms(page(client)) == ["windows", "macos", "android", "linux"]
    variants = client.get("/api/products/demo").json["data"]["variants"]
    assert [variant["platform"] for variant in variants] == ["windows", "macos", "android", "linux"]


@pytest.mark.parametrize("min_os, label", [
    ("14", "Android 4.0 (API 14)"),
    ("99", "Android API 99"),
    ("²", "Android ²"),
    ("١٤", "Android ١٤"),
    ("99999", "Android 99999"),
    ("1" * 32, "Android " + "1" * 32),
])
def test_min_os_label_reads_only_ascii_api_levels(api, client, min_os, label):
    product = api.create_product()
    variant = api.create_variant(product["id"], identifier="com.politedroid")
    api.upload_release(variant["id"], ANDROID_SAMPLE, min_os=min_os)
    assert f"{label} or later" in card_html(page(client, user_agent=ANDROID), "android")


def test_a_package_with_a_non_ascii_min_sdk_renders(api, client, tmp_path):
    product = api.create_product()
    variant = api.create_variant(product["id"], identifier="com.example.synthetic")
    apk = make_apk(tmp_path / "crafted.apk", manifest(min_sdk="²"))
    api.upload_release(variant["id"], "crafted.apk", apk.read_bytes())
    assert "Android ² or later" in card_html(page(client, user_agent=ANDROID), "android")


def test_aab_releases_have_no_install_button(api, client):
    product = api.create_product()
    variant = api.create_variant(product["id"], identifier="com.icyleaf.appinfodemo")
    api.upload_release(variant["id"], "android-appinfodemo.aab")
    card = card_html(page(client, user_agent=ANDROID), "android")
    assert "cannot be installed directly" in card and "data-release" not in card
    release = client.get("/api/products/demo").json["data"]["variants"][0]["releases"][0]
    assert release["installable"] is False


def test_empty_products_and_variants_say_so(api, client):
    product = api.create_product()
    assert "Nothing to download yet." in page(client)
    api.create_variant(product["id"])
    assert "No build is available yet." in card_html(page(client), "android")


def test_chinese_is_chosen_from_accept_language(client, shop):
    html = page(client, user_agent=IPHONE, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh">' in html and ">安装</a>" in html and "注册此设备" in html
    html = page(client, **{"Accept-Language": "fr-FR,en;q=0.5"})
    assert '<html lang="en">' in html and ">Download</a>" in html


def test_a_visit_event_is_recorded(api, client, shop):
    page(client, user_agent=ANDROID)
    items = api.data("GET", "/admin/api/events?type=visit")["items"]
    assert len(items) == 1
    assert items[0]["product_id"] == shop["product"]["id"]
    assert (items[0]["variant_id"], items[0]["release_id"], items[0]["user_agent"]) == ("", "", ANDROID)
    client.get("/api/products/demo")
    client.head("/products/demo")
    assert api.data("GET", "/admin/api/events?type=visit")["total"] == 1


def test_https_warning_is_for_admins_only(api, client, shop):
    warning = "primary domain is not https://"
    assert warning in page(client, **{"X-Auth-Token": ADMIN_TOKEN})
    assert warning not in page(client)
    assert warning not in page(client, **{"X-Auth-Token": UPLOAD_TOKEN})
    assert warning not in page(client, **{"X-Auth-Token": "wrong"})
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://dl.example.com"})
    html = page(client, **{"X-Auth-Token": ADMIN_TOKEN})
    assert warning not in html
    assert f'href="https://dl.example.com/d/{shop["releases"]["windows"]["id"]}"' in html


def test_the_page_loads_its_own_assets_relatively_and_links_out_absolutely(api, client, shop):
    """A page served on a secondary domain may only load images from there (CSP img-src 'self'), while
    links that leave the page use the primary domain."""
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://dl.example.com"})
    response = client.get("/products/demo", base_url="https://mirror.example.org", headers={"User-Agent": IPHONE})
    html = response.get_data(as_text=True)
    assert "img-src 'self' data:;" in response.headers["Content-Security-Policy"]
    icon = f"/icons/{shop['releases']['ios']['id']}.png"
    assert f'<link rel="icon" href="{icon}">' in html and f'<img class="app-icon" src="{icon}"' in html
    assert re.findall(r'<(?:img|script)[^>]* src="([^"]*)"', html) == ["/static/product.js", icon]
    assert re.findall(r'<link[^>]* href="([^"]*)"', html) == [icon, "/static/style.css"]
    android = shop["releases"]["android"]["id"]
    assert f'href="https://dl.example.com/d/{android}"' in html
    assert "url=https%3A%2F%2Fdl.example.com%2Fios%2F" in html
    assert "mirror.example.org" not in html


def test_json_api_has_the_page_data_and_no_device_or_team_details(api, client, shop):
    admin_view = api.data("GET", f"/admin/api/products/{shop['product']['id']}")
    ios_admin = next(v for v in admin_view["variants"] if v["platform"] == "ios")
    profile = ios_admin["releases"][0]["provisioning_profile"]
    assert profile["devices"] and profile["team_id"]
    response = client.get("/api/products/demo", headers={"User-Agent": IPHONE})
    data = response.json["data"]
    text = response.get_data(as_text=True)
    for secret in profile["devices"] + [profile["team_id"], profile["uuid"], "provisioning_profile"]:
        assert secret not in text
    assert (data["product"]["name"], data["visitor_platform"]) == ("Demo App", "ios")
    assert data["product"]["icon_url"] == f"http://localhost/icons/{shop['releases']['ios']['id']}.png"
    assert data["urls"] == {"page": "http://localhost/products/demo",
                            "qrcode": "http://localhost/products/demo/qrcode.svg"}
    ios = data["variants"][0]
    assert (ios["platform"], ios["recommended"]) == ("ios", True)
    release = ios["releases"][0]
    assert release["id"] == ios["selected_release_id"] == shop["releases"]["ios"]["id"]
    assert release["urls"]["ios_install"].startswith("itms-services://?action=download-manifest&url=http%3A")
    assert release["changelog"] == "First line\nSecond line"
    assert "ios_install" not in data["variants"][1]["releases"][0]["urls"]


def test_manifest_points_at_the_ipa_and_its_icon(client, shop):
    release_id = shop["releases"]["ios"]["id"]
    response = client.get(f"/ios/{release_id}/manifest.plist")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    item = plistlib.loads(response.data)["items"][0]
    icon = f"http://localhost/icons/{release_id}.png"
    assert item["assets"] == [
        {"kind": "software-package", "url": f"http://localhost/d/{release_id}"},
        {"kind": "display-image", "url": icon},
        {"kind": "full-size-image", "url": icon},
    ]
    assert item["metadata"] == {"bundle-identifier": "sg.vp.UnCrackable-2", "bundle-version": "1.0",
                                "kind": "software", "title": "UnCrackable2"}


def test_manifest_without_icon_and_manifest_404s(api, client, shop):
    variant = api.create_variant(shop["product"]["id"], platform="ios", identifier="com.icyleaf.AppInfoDemo")
    release = api.upload_release(variant["id"], "ios-iphone-binary-plist-no-icons.ipa")
    item = plistlib.loads(client.get(f"/ios/{release['id']}/manifest.plist").data)["items"][0]
    assert [asset["kind"] for asset in item["assets"]] == ["software-package"]
    assert item["metadata"]["title"] == "AppInfoDemo"
    assert_error(client.get(f"/ios/{shop['releases']['android']['id']}/manifest.plist"), 404, "NOT_FOUND")
    assert_error(client.get("/ios/rel_0000000000000000/manifest.plist"), 404, "NOT_FOUND")
    api.data("PUT", f"/admin/api/apps/{variant['id']}/unpublish")
    assert_error(client.get(f"/ios/{release['id']}/manifest.plist"), 404, "NOT_FOUND")


def test_icons_are_valid_images_with_cache_headers(api, client, shop):
    path = f"/icons/{shop['releases']['ios']['id']}.png"
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "image/png"
    width, height, _, _ = png_pixels(response.data)
    assert width == height >= 57
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(path, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    variant = api.create_variant(shop["product"]["id"], identifier="com.icyleaf.appinfodemo")
    webp = api.upload_release(variant["id"], "android-appinfodemo-obfuscated-res-adaptive.apk")
    response = client.get(f"/icons/{webp['id']}.png")
    assert response.mimetype == "image/webp" and icon_size(response.data)[0] > 0


def test_icons_404_without_icon_or_when_unpublished(api, client, shop):
    assert_error(client.get(f"/icons/{shop['releases']['windows']['id']}.png"), 404, "NOT_FOUND", "no icon")
    assert_error(client.get("/icons/rel_0000000000000000.png"), 404, "NOT_FOUND")
    api.data("PUT", f"/admin/api/apps/{shop['variants']['ios']['id']}/unpublish")
    assert_error(client.get(f"/icons/{shop['releases']['ios']['id']}.png"), 404, "NOT_FOUND")


def qr_matrix_from_svg(svg):
    """Dark modules of a segno SVG path ("M x y", "m dx dy", "h n" commands) as a set of (x, y),
    moved so that the symbol starts at (0, 0) whatever quiet zone the SVG has."""
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    dark, x, y = set(), 0.0, 0.0
    for command, numbers in re.findall(r"([Mmh])([-\d. ]+)", path):
        values = [float(value) for value in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            dark.update((int(x) + step, int(y)) for step in range(int(values[0])))
            x += values[0]
    left, top = min(x for x, _ in dark), min(y for _, y in dark)
    return {(x - left, y - top) for x, y in dark}


def decode_qr(svg, scale=6, quiet_zone=4):
    """The text of the QR code drawn by an SVG, read by a real decoder from a rendering of it."""
    dark = qr_matrix_from_svg(svg)
    size = max(x for x, _ in dark) + 1 + 2 * quiet_zone
    image = Image.new("L", (size * scale, size * scale), 255)
    for x, y in dark:
        left, top = (x + quiet_zone) * scale, (y + quiet_zone) * scale
        image.paste(0, (left, top, left + scale, top + scale))
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_qr_code_svg_decodes_to_the_page_url(api, client, shop):
    response = client.get("/products/demo/qrcode.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert decode_qr(response.get_data(as_text=True)) == ["http://localhost/products/demo"]
    api.data("PUT", "/admin/api/settings", json={"primary_domain": "https://dl.example.com"})
    svg = client.get("/products/demo/qrcode.svg").get_data(as_text=True)
    assert decode_qr(svg) == ["https://dl.example.com/products/demo"]
    inline = re.search(r'<div class="qr-code">(.*?)</div>', page(client), re.S).group(1)
    assert qr_matrix_from_svg(inline) == qr_matrix_from_svg(svg)
