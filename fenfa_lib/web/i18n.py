"""The public pages' texts in English and Chinese, chosen from Accept-Language, and the translator the admin
panel's texts share."""
LANGUAGES = ("en", "zh")

TEXTS = {
    "en": {
        "landing_title": "App distribution",
        "landing_body": "Open the link or scan the QR code you were given to install an app.",
        "recommended": "Recommended for this device",
        "version": "Version",
        "build": "build",
        "size": "Size",
        "date": "Released",
        "requires": "Requires",
        "or_later": "{os} or later",
        "changelog": "What's new",
        "install": "Install",
        "download": "Download",
        "register_device": "Register this device",
        "register_hint": "Test builds only install on registered devices.",
        "device_registered": "This device is registered.",
        "device_ready": "The newest build includes it: ready to install.",
        "device_waiting": "Waiting for a new build that includes this device.",
        "no_release": "No build is available yet.",
        "no_variants": "Nothing to download yet.",
        "other_versions": "Other versions",
        "latest": "latest",
        "scan_title": "Open on your phone",
        "scan_hint": "Scan this code with your phone's camera.",
        "admin_warning": "Only admins see this",
        "reason_other_platform": "For another kind of device.",
        "reason_bundle": "This is an Android App Bundle (.aab): it cannot be installed directly.",
        "reason_watch": "This Wear OS build installs on a watch, from the watch's Play Store or the phone's "
                        "companion app.",
        "reason_ipad_only": "This build is for iPad only.",
        "reason_tv_only": "This build is for Apple TV.",
        "reason_watch_only": "This build is for Apple Watch.",
        "reason_vision_only": "This build is for Apple Vision Pro.",
        "reason_app_store": "Signed for the App Store: install it from TestFlight or the App Store.",
        "reason_profile_expired": "This build's provisioning profile expired on {detail}.",
        "reason_device_not_in_profile": "Waiting for a build that includes this device.",
        "reason_os_too_old": "Needs iOS {detail} or later.",
        "offering_older": "The newest build cannot be installed here: {reason} This is the newest one that can.",
        "other_platforms": "Other platforms",
        "needs_https": "Installing on iPhone and iPad needs an https:// address; this page was opened over http.",
        "in_app_browser": "This app's built-in browser cannot install apps: open this page in Safari or your "
                          "browser (⋯ menu → Open in browser).",
        "channel_only": "Showing the {channel} channel only.",
        "all_channels": "Show every channel",
    },
    "zh": {
        "landing_title": "应用分发",
        "landing_body": "请打开收到的链接或扫描二维码来安装应用。",
        "recommended": "推荐当前设备使用",
        "version": "版本",
        "build": "构建",
        "size": "大小",
        "date": "发布日期",
        "requires": "系统要求",
        "or_later": "{os} 或更高版本",
        "changelog": "更新内容",
        "install": "安装",
        "download": "下载",
        "register_device": "注册此设备",
        "register_hint": "测试版本只能安装在已注册的设备上。",
        "device_registered": "此设备已注册。",
        "device_ready": "最新版本已包含此设备，可以安装。",
        "device_waiting": "正在等待包含此设备的新版本。",
        "no_release": "暂无可用版本。",
        "no_variants": "暂无可下载的内容。",
        "other_versions": "其他版本",
        "latest": "最新",
        "scan_title": "在手机上打开",
        "scan_hint": "用手机相机扫描此二维码。",
        "admin_warning": "仅管理员可见",
        "reason_other_platform": "适用于其他类型的设备。",
        "reason_bundle": "这是 Android App Bundle (.aab) 文件，无法直接安装。",
        "reason_watch": "这是 Wear OS 版本，需在手表的 Play 商店或手机上的配套应用中安装。",
        "reason_ipad_only": "此版本仅适用于 iPad。",
        "reason_tv_only": "此版本适用于 Apple TV。",
        "reason_watch_only": "此版本适用于 Apple Watch。",
        "reason_vision_only": "此版本适用于 Apple Vision Pro。",
        "reason_app_store": "此版本为 App Store 签名：请通过 TestFlight 或 App Store 安装。",
        "reason_profile_expired": "此版本的描述文件已于 {detail} 过期。",
        "reason_device_not_in_profile": "正在等待包含此设备的新版本。",
        "reason_os_too_old": "需要 iOS {detail} 或更高版本。",
        "offering_older": "最新版本无法在此设备上安装：{reason} 这是可以安装的最新版本。",
        "other_platforms": "其他平台",
        "needs_https": "在 iPhone 和 iPad 上安装需要 https:// 地址；此页面是通过 http 打开的。",
        "in_app_browser": "此应用的内置浏览器无法安装应用：请在 Safari 或系统浏览器中打开此页面"
                          "（⋯ 菜单 → 在浏览器中打开）。",
        "channel_only": "仅显示 {channel} 渠道。",
        "all_channels": "显示全部渠道",
    },
}


def translator(language, catalog=TEXTS):
    """A `t(key, **values)` function for templates over `catalog` (these public texts unless given);
    unknown languages fall back to English."""
    texts = catalog.get(language, catalog["en"])

    def translate(key, **values):
        text = texts.get(key, catalog["en"][key])
        return text.format(**values) if values else text

    return translate
