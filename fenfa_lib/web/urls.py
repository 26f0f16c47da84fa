"""Public URLs, all built from the effective primary domain: the one an admin saved, else the
configured one, else the host the request came to."""
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from flask import current_app, g, request

from fenfa_lib import current

HTTPS_WARNING = "primary domain is not https://: iOS refuses to install over the air without HTTPS"


def base_url():
    """Admin-saved primary domain, else the configured one, else scheme://host of the request; once a request."""
    if "base_url" not in g:
        saved = current.settings().primary_domain
        g.base_url = (saved or current_app.config["FENFA"]["primary_domain"] or request.host_url).rstrip("/")
    return g.base_url


def page_url(slug, release_id=None):
    url = f"{base_url()}/products/{quote(slug)}"
    return f"{url}?r={release_id}" if release_id else url


def download_url(release_id, token=None):
    return with_token(f"{base_url()}/d/{release_id}", token)


def manifest_url(release_id, token=None):
    return with_token(f"{base_url()}/ios/{release_id}/manifest.plist", token)


def ios_install_url(release_id, token=None):
    return "itms-services://?action=download-manifest&url=" + quote(manifest_url(release_id, token), safe="")


def icon_url(release_id, token=None):
    return with_token(f"{base_url()}/icons/{release_id}.png", token)


def qrcode_url(slug):
    return f"{base_url()}/products/{quote(slug)}/qrcode.svg"


def share_url(token):
    return f"{base_url()}/s/{quote(token)}"


def release_links(release, variant, slug, token=None):
    """Public URLs of one release; iOS builds install through an itms-services manifest, whose URL carries
    `token`, the install token of a protected product (iOS fetches the manifest without the browser's cookies)."""
    links = {"page": page_url(slug, release.id), "download": download_url(release.id)}
    if variant.platform == "ios":
        links["ios_manifest"] = manifest_url(release.id, token)
        links["ios_install"] = ios_install_url(release.id, token)
    return links


def udid_callback_url(nonce):
    """Where iOS posts the device's attributes after the tester installs the Profile Service profile."""
    return f"{base_url()}/udid/callback?nonce={nonce}"


def udid_return_url(slug, token):
    """The product page that shows the registration the return `token` proves."""
    return with_query(page_url(slug), udid_token=token)


def with_query(url, **params):
    """`url` with `params` appended to whatever query it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_token(url, token):
    """`url` with the access token `t` of a protected product, when there is one."""
    return with_query(url, t=token) if token else url


def https_warnings():
    """Warnings for admins about the effective primary domain."""
    return [] if base_url().startswith("https://") else [HTTPS_WARNING]


def admin_warnings(is_admin):
    """The deployment warnings when the viewer is an admin; none for testers."""
    return https_warnings() if is_admin else []
