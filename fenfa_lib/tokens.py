"""Named tokens: made by an admin with a scope (and, for upload tokens, perhaps one product), shown once, kept
only as a hash, revoked by deleting them."""
import hashlib
import secrets
from datetime import timedelta

from fenfa_lib.errors import ApiError
from fenfa_lib.events import unless_busy
from fenfa_lib.ids import new_id
from fenfa_lib.models import ApiToken, Product, utcnow

SCOPES = ("upload", "admin")
SECRET_PREFIX = "fenfa_"  # tells a named token from a configured one before any lookup, and to secret scanners
MAX_NAME_LENGTH = 100
USED_EVERY = timedelta(minutes=1)  # how often a token's last_used_at is written


def secret_hash(secret):
    """The SHA-256 of a secret. A fast hash is right here: a secret is 256 random bits, which no one can guess
    or search for from its hash; a slow salted hash protects weak, human-chosen passwords, and would cost
    every request it checks."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(name, scope, product_id=None):
    """(the new token, its secret): the secret is in no row, so this is the only time anyone sees it. Only an
    upload token may be limited to one product."""
    if scope not in SCOPES:
        raise ApiError(400, f"scope must be one of: {', '.join(SCOPES)}")
    if product_id is not None and scope != "upload":
        raise ApiError(400, "product_id applies to upload tokens only: an admin token may change every product, "
                            "the settings and the tokens themselves")
    if product_id is not None and not Product.select().where(Product.id == product_id).exists():
        raise ApiError(400, f"product_id: product {product_id} not found")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.create(id=new_id("token"), name=name, scope=scope, product=product_id,
                            secret_hash=secret_hash(secret))
    return token, secret


def all_tokens():
    return ApiToken.select().order_by(ApiToken.created_at.desc(), ApiToken.id)


def revoke_token(token):
    """Delete the token: the next request that presents it is refused, and so is a session it started."""
    token.delete_instance()
    return token.id


def find_token(secret):
    """The named token with this secret, or None; only reads. The database compares hashes, not secrets, so the
    time a lookup takes tells nothing about any secret."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    return ApiToken.get_or_none(ApiToken.secret_hash == secret_hash(secret))


def lookup(secret, now=None):
    """The named token with this secret, or None, its use noted."""
    token = find_token(secret)
    if token is not None:
        note_use(token, now or utcnow())
    return token


def note_use(token, now):
    """Set last_used_at, at most once every USED_EVERY (not a write per request); a busy database costs the
    note, never the request."""
    if token.last_used_at is not None and token.last_used_at > now - USED_EVERY:
        return
    with unless_busy(f"last use of token {token.id}"):
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
        token.last_used_at = now
