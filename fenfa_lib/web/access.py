"""The one access check of a protected product's public routes (page, JSON, QR code, downloads, manifests, icons,
UDID profile, update check, latest links): an admin, a share link or install token in `t`, or the product's
access cookie gets in; public products pass untouched. Also the cookie itself, the install links iOS follows
without cookies, and the per-address budget of wrong passwords."""
import math
from datetime import timedelta

from flask import abort, current_app, g, request

from fenfa_lib import access, current
from fenfa_lib.address_limits import Lockout
from fenfa_lib.catalog import published_product
from fenfa_lib.models import utcnow
from fenfa_lib.web import urls
from fenfa_lib.web.auth import is_admin_request
from fenfa_lib.web.envelope import error_response

ACCESS = "fenfa.access"
COOKIE_PREFIX = "access_"
LINK_TOKEN_PREFIX = "lnk_"
# A page with install links is cached this long at most, so the hour-long tokens it carries have 50 min left.
INSTALL_LINKS_CACHE_SECONDS = 600
REFUSALS = {"password": "this app is protected by a password: open its page and enter it, or use a share link",
            "private": "this app is private: only a share link or an admin opens it"}


def init_access(app):
    """Per app: the wrong-password budget (ten a minute per address, then a minute's wait), and the response
    marking of protected answers."""
    app.extensions[ACCESS] = {"passwords": Lockout("password")}
    app.after_request(keep_protected_answers_private)


def page_product(slug):
    """The published product at `slug`, read from the database once per catalog revision; or None."""
    products = current.cache("page_products")
    return products.get_or_compute(slug, current.revision(), lambda: (published_product(slug), None))


def password_lockout():
    return current_app.extensions[ACCESS]["passwords"]


def cookie_name(product_id):
    return COOKIE_PREFIX + product_id


def grant_for(product, release_id=None):
    """The grant by which this request may see the protected `product` (for `release_id`, an install token of
    that release counts too), checked once a request; None without one."""
    grants = g.setdefault("access_grants", {})
    key = (product.id, release_id)
    if key not in grants:
        grants[key] = find_grant(product, release_id)
    return grants[key]


def find_grant(product, release_id):
    """An admin's, else the `t` query argument's, else the access cookie's, when it still holds."""
    if is_admin_request():
        return access.ADMIN
    secret = current_app.secret_key
    grant = token_grant(request.args.get("t", ""), release_id)
    if grant is None or not access.grant_holds(grant, product):
        grant = access.cookie_grant(secret, request.cookies.get(cookie_name(product.id), ""), product.id)
        if grant is None or grant.kind == "admin" or not access.grant_holds(grant, product):
            return None
    return grant


def token_grant(token, release_id):
    """The grant of a `t`: a share link token (for the whole product) or an install token (for its release)."""
    if not token:
        return None
    secret = current_app.secret_key
    if token.startswith(LINK_TOKEN_PREFIX):
        link = access.token_link(secret, token)
        return access.Grant("link", link.id) if link else None
    return access.install_token_grant(secret, token, release_id) if release_id else None


def require_access(product, release_id=None):
    """None for a public product; else the request's grant, or 401 in the envelope, from page routes too (a QR
    code or a latest link fetched without access is no page to show a form on)."""
    if product.access == "public":
        return None
    g.protected_answer = True
    grant = grant_for(product, release_id)
    if grant is None:
        response, status = error_response(401, REFUSALS.get(product.access, REFUSALS["private"]))
        response.status_code = status
        abort(response)
    return grant


def keep_protected_answers_private(response):
    """What a protected product answers is the visitor's alone: no shared cache may keep it."""
    if g.get("protected_answer"):
        response.cache_control.public = False
        response.cache_control.private = True
        response.vary.add("Cookie")
    return response


def install_token(product, release_id):
    """The `t` on the install links of `release_id`: None for a public product, or without access; the `t` this
    request got in with, when it opens that release, else a new token of this request's grant."""
    if product.access == "public":
        return None
    grant = grant_for(product, release_id) or grant_for(product)
    if grant is None:
        return None
    presented = request.args.get("t", "")
    if presented and token_grant(presented, release_id) == grant:
        return presented
    return access.sign_install_token(current_app.secret_key, release_id, grant)


def link_builder(product):
    """`urls.release_links` for `product`'s releases, the install token on the links iOS follows."""

    def release_links(release, variant, slug):
        return urls.release_links(release, variant, slug, token=install_token(product, release.id))

    return release_links


def install_links_valid_until(valid_until):
    """When a cached page that carries install tokens must be built again: in INSTALL_LINKS_CACHE_SECONDS, or
    sooner when what it shows turns before that."""
    refresh = utcnow() + timedelta(seconds=INSTALL_LINKS_CACHE_SECONDS)
    return min(valid_until, refresh) if valid_until else refresh


def grant_cookie(response, product, grant):
    """Set the product's access cookie on `response`: signed, HttpOnly, SameSite=Lax, a week."""
    value = access.sign_cookie(current_app.secret_key, product.id, grant)
    response.set_cookie(cookie_name(product.id), value, max_age=access.COOKIE_SECONDS, path="/",
                        secure=request.is_secure, httponly=True, samesite="Lax")
    response.headers["Cache-Control"] = "no-store"
    return response


def password_wait():
    """Whole seconds this address must wait before its next password, 0 when it may try now."""
    return math.ceil(password_lockout().wait(request.remote_addr or ""))


def count_wrong_password():
    password_lockout().fail(request.remote_addr or "")
