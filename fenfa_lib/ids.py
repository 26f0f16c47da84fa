"""Resource IDs and URL slugs."""
import re
import secrets
import unicodedata

PREFIXES = {"product": "prd_", "variant": "var_", "release": "rel_", "device": "dev_", "webhook": "whk_",
            "delivery": "dlv_", "link": "lnk_", "token": "tok_"}
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 64


def new_id(kind):
    """The prefix of `kind` (see PREFIXES) and 16 lowercase hex characters."""
    return PREFIXES[kind] + secrets.token_hex(8)


def is_valid_slug(slug):
    return bool(SLUG_PATTERN.match(slug)) and len(slug) <= MAX_SLUG_LENGTH


def slugify(text):
    """A slug from a display name; falls back to "app" when nothing usable remains."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:MAX_SLUG_LENGTH].strip("-")
    return slug or "app"
