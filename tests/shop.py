"""A published product with a build on every platform: the conftest's `shop` fixture for the public, events
and browser tests."""
from profiles import ipa_with_profile, signed_profile

IOS_SAMPLE = "ios-uncrackable2-xml-plist-cgbi-icons.ipa"
SHOP_UDIDS = ["00008030-001A2B3C4D5E6F70"]  # the devices the shop's iOS build is made for
ANDROID_SAMPLE = "android-politedroid-minsdk3-tiny.apk"
EXE = b"MZ" + bytes(range(256)) * 8
DMG = b"\0" * 1000 + b"koly" + b"\0" * 508
DEB = b"!<arch>\n" + b"\0" * 200
SCRIPT = "<script>window.pwned=1</script>"


def shop_ipa():
    """The iOS sample with a development profile that lists SHOP_UDIDS and expires a year from now."""
    return ipa_with_profile(IOS_SAMPLE, signed_profile("development", SHOP_UDIDS))


def make_shop(api):
    """Product "demo" with one release on each platform, in an admin order that is no visitor's order;
    returns {"product", "variants", "releases"}, the last two keyed by platform."""
    product = api.create_product(description="Builds for testers")
    pid = product["id"]
    variants = {
        "windows": api.create_variant(pid, platform="windows", display_name="Windows", sort_order=0),
        "macos": api.create_variant(pid, platform="macos", display_name="macOS", sort_order=1),
        "android": api.create_variant(pid, platform="android", display_name="Android phone",
                                      identifier="com.politedroid", sort_order=2),
        "ios": api.create_variant(pid, platform="ios", display_name="iPhone & iPad",
                                  identifier="sg.vp.UnCrackable-2", sort_order=3),
        "linux": api.create_variant(pid, platform="linux", display_name="Linux", sort_order=4),
    }
    releases = {
        "windows": api.upload_release(variants["windows"]["id"], "setup.exe", EXE),
        "macos": api.upload_release(variants["macos"]["id"], "App.dmg", DMG),
        "android": api.upload_release(variants["android"]["id"], ANDROID_SAMPLE),
        "ios": api.upload_release(variants["ios"]["id"], "UnCrackable.ipa", shop_ipa(),
                                  changelog="First line\nSecond line"),
        "linux": api.upload_release(variants["linux"]["id"], "app.deb", DEB),
    }
    return {"product": product, "variants": variants, "releases": releases}
