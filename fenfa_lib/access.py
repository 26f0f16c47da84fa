"""Access to protected products: password hashes, the signed grants that say how a visitor got in (a password,
a share link, an admin), and share links with their expiry, download cap and revocation.

Passwords are hashed with the standard library's scrypt (OpenSSL's), not werkzeug's wrapper of the same
function: the core stays free of the web framework, and the cost parameters are written into every hash, so
raising them later leaves the old hashes readable. Grants travel signed with the server secret by itsdangerous,
which Flask already depends on; every use checks the grant again against the database, so a changed password or a
revoked link ends every cookie and install token made from it. `utcnow` is the one clock of this module: tests
move it."""
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta

from itsdangerous import BadSignature, Signer, TimestampSigner, URLSafeTimedSerializer

from fenfa_lib.errors import ApiError
from fenfa_lib.ids import new_id
from fenfa_lib.models import ShareLink, utcnow

ACCESS_LEVELS = ("public", "password", "private")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# werkzeug's defaults for scrypt: 32 MiB and some 60 ms a hash, slow for a guesser, bearable for a 2-CPU server.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAX_MEMORY = 64 * 1024 * 1024
SALT_BYTES = 16
COOKIE_SECONDS = 7 * 24 * 3600
INSTALL_TOKEN_SECONDS = 3600
MIN_LINK_HOURS, MAX_LINK_HOURS, DEFAULT_LINK_HOURS = 1, 8760, 168
MAX_NOTE_LENGTH = 200
LINK_STATES = ("live", "revoked", "expired", "used_up")


def hash_password(password):
    """`scrypt$n$r$p$<salt>$<hash>`, base64 for the last two."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(password, stored):
    """Whether `password` is the one `stored` was made from, compared in constant time; False for no hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(digest))
    except ValueError:
        return False


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAX_MEMORY, dklen=32)


def _b64(data):
    return base64.b64encode(data).decode()


def check_password(password):
    """`password` if it may protect a product: text of MIN..MAX_PASSWORD_LENGTH characters (kept as typed)."""
    if not isinstance(password, str):
        raise ApiError(400, "password must be a string")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ApiError(400, f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    return password


def access_changes(fields, product=None):
    """Product fields with `password` turned into `password_hash`, `access` checked: a product whose access is,
    or becomes, `password` needs a password, given now or set before. `product` is None when creating."""
    fields = dict(fields)
    if "access" in fields and fields["access"] not in ACCESS_LEVELS:
        raise ApiError(400, f"access must be one of: {', '.join(ACCESS_LEVELS)}")
    if "password" in fields:
        password = fields.pop("password")
        if password is not None:
            fields["password_hash"] = hash_password(check_password(password))
        elif product is not None:
            fields["password_hash"] = ""
    access = fields.get("access") or (product.access if product else "public")
    has_password = fields.get("password_hash", product.password_hash if product else "")
    if access == "password" and not has_password:
        raise ApiError(400, "password is required when access is password")
    return fields


@dataclass(frozen=True)
class Grant:
    """How a visitor got into a product: `kind` admin, password (`value` a fingerprint of the password hash it
    was given for) or link (`value` the share link's ID)."""

    kind: str
    value: str = ""

    @property
    def link_id(self):
        return self.value if self.kind == "link" else None


ADMIN = Grant("admin")


def password_fingerprint(password_hash):
    """What a password grant remembers of the hash: a new password gives a new one, ending the old grants."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def password_grant(product):
    return Grant("password", password_fingerprint(product.password_hash))


def grant_holds(grant, product, now=None):
    """Whether `grant` still lets its holder into `product`: an admin always; a password grant while the
    product asks for that same password; a link grant while the link, one of the product's, is live."""
    if grant.kind == "admin":
        return True
    if grant.kind == "password":
        return (product.access == "password" and bool(product.password_hash)
                and hmac.compare_digest(grant.value, password_fingerprint(product.password_hash)))
    if grant.kind == "link":
        link = ShareLink.get_or_none(ShareLink.id == grant.value)
        return link is not None and link.product_id == product.id and link_state(link, now) == "live"
    return False


class _ClockSigner(TimestampSigner):
    """itsdangerous's timestamp signer on this module's clock, so that tests can move it."""

    def get_timestamp(self):
        return int(utcnow().replace(tzinfo=UTC).timestamp())


def _serializer(secret, purpose):
    return URLSafeTimedSerializer(secret, salt=f"fenfa.{purpose}", signer=_ClockSigner,
                                  signer_kwargs={"digest_method": hashlib.sha256})


def sign_cookie(secret, product_id, grant):
    """The access cookie's value: the grant, for this product, signed and dated."""
    return _signed_grant(secret, "access-cookie", product_id, grant)


def cookie_grant(secret, value, product_id):
    """The grant a genuine cookie younger than COOKIE_SECONDS carries for this product, else None."""
    return _grant_of(secret, "access-cookie", value, product_id, COOKIE_SECONDS)


def sign_install_token(secret, release_id, grant):
    """The `t` of an iOS install: the grant, bound to one release, for INSTALL_TOKEN_SECONDS."""
    return _signed_grant(secret, "install-token", release_id, grant)


def install_token_grant(secret, token, release_id):
    """The grant a genuine install token younger than an hour carries for this release, else None."""
    return _grant_of(secret, "install-token", token, release_id, INSTALL_TOKEN_SECONDS)


def _signed_grant(secret, purpose, bound_to, grant):
    return _serializer(secret, purpose).dumps([bound_to, grant.kind, grant.value])


def _grant_of(secret, purpose, value, bound_to, max_age):
    """The grant `value` carries when it is genuine, signed under `purpose` for `bound_to` within `max_age`
    seconds; None for anything else, forged or too old."""
    try:
        fields = _serializer(secret, purpose).loads(value or "", max_age=max_age)
    except (BadSignature, ValueError):
        return None
    if not (isinstance(fields, list) and len(fields) == 3 and all(isinstance(field, str) for field in fields)):
        return None
    return Grant(fields[1], fields[2]) if fields[0] == bound_to else None


def _link_signer(secret):
    return Signer(secret, salt="fenfa.share-link", digest_method=hashlib.sha256)


def link_token(secret, link_id):
    """`<link id>.<signature>`: what /s/ takes. It is computed from the ID, so no secret of the link is stored
    and the list of links can show every URL again; what a link allows is in its row, checked on every use."""
    return _link_signer(secret).sign(link_id).decode()


def token_link(secret, token):
    """The share link a genuine link token names, or None."""
    try:
        link_id = _link_signer(secret).unsign(token or "").decode()
    except (BadSignature, ValueError):
        return None
    return ShareLink.get_or_none(ShareLink.id == link_id)


def link_state(link, now=None):
    """'revoked', 'expired', 'used_up' (max_downloads full downloads made) or 'live'."""
    now = now or utcnow()
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    if link.max_downloads is not None and link.download_count >= link.max_downloads:
        return "used_up"
    return "live"


def create_link(product, expires_in_hours=DEFAULT_LINK_HOURS, max_downloads=None, note=""):
    now = utcnow()
    return ShareLink.create(id=new_id("link"), product=product, expires_at=now + timedelta(hours=expires_in_hours),
                            max_downloads=max_downloads, note=note, created_at=now)


def product_links(product):
    """The product's share links, newest first."""
    return ShareLink.select().where(ShareLink.product == product).order_by(ShareLink.created_at.desc(),
                                                                           ShareLink.id.desc())


def revoke_link(link):
    """Revoke `link` now (a link revoked before keeps its first revocation time)."""
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        link.save(only=[ShareLink.revoked_at])
    return link


def claim_link_download(link_id):
    """Count one full download against a live link, in one statement so that two downloads at once cannot
    both take the last one; False when the link has none left (or expired, or was revoked, meanwhile)."""
    claimed = ShareLink.update(download_count=ShareLink.download_count + 1).where(
        (ShareLink.id == link_id) & ShareLink.revoked_at.is_null() & (ShareLink.expires_at > utcnow())
        & (ShareLink.max_downloads.is_null() | (ShareLink.download_count < ShareLink.max_downloads))).execute()
    return claimed == 1
