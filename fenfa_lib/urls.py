"""Public URLs, all built from the effective primary domain (SPEC §2)."""
from urllib.parse import quote

from flask import current_app, request

from fenfa_lib import current


def base_url():
    """Admin-saved primary domain, else the configured one, else scheme://host of the request."""
    saved = current.settings().primary_domain
    return (saved or current_app.config["FENFA"]["primary_domain"] or request.host_url).rstrip("/")


def page_url(slug, release_id=None):
    url = f"{base_url()}/products/{quote(slug)}"
    return f"{url}?r={release_id}" if release_id else url


def download_url(release_id):
    return f"{base_url()}/d/{release_id}"


def manifest_url(release_id):
    return f"{base_url()}/ios/{release_id}/manifest.plist"


def ios_install_url(release_id):
    return "itms-services://?action=download-manifest&url=" + quote(manifest_url(release_id), safe="")


def icon_url(release_id):
    return f"{base_url()}/icons/{release_id}.png"


def qrcode_url(slug):
    return f"{base_url()}/products/{quote(slug)}/qrcode.svg"


def https_warnings():
    """Warnings for admins about the effective primary domain."""
    if base_url().startswith("https://"):
        return []
    return ["primary domain is not https://: iOS refuses to install over the air without HTTPS"]
