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
        "not_installable": "This is an Android App Bundle (.aab): it cannot be installed directly.",
        "no_release": "No build is available yet.",
        "no_variants": "Nothing to download yet.",
        "other_versions": "Other versions",
        "latest": "latest",
        "scan_title": "Open on your phone",
        "scan_hint": "Scan this code with your phone's camera.",
        "admin_warning": "Only admins see this",
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
        "not_installable": "这是 Android App Bundle (.aab) 文件，无法直接安装。",
        "no_release": "暂无可用版本。",
        "no_variants": "暂无可下载的内容。",
        "other_versions": "其他版本",
        "latest": "最新",
        "scan_title": "在手机上打开",
        "scan_hint": "用手机相机扫描此二维码。",
        "admin_warning": "仅管理员可见",
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
