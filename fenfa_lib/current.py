"""What one request reads once: the catalog revision, and the settings row (a product page builds dozens of
URLs from it), which is read from the database only when the revision moved. Also the app's caches."""
from flask import current_app, g

from fenfa_lib.models import Settings
from fenfa_lib.revision import RevisionCache, catalog_revision

CACHES = "fenfa.revision_caches"
CACHE_SIZES = {"settings": 1, "storage": 2, "pages": 256, "html_pages": 256, "page_products": 1024}


def init_caches(app):
    """Caches per app, so that apps in one process (tests, for one) never share what they cached."""
    app.extensions[CACHES] = {name: RevisionCache(size) for name, size in CACHE_SIZES.items()}


def cache(name):
    return current_app.extensions[CACHES][name]


def revision():
    if "revision" not in g:
        g.revision = catalog_revision()
    return g.revision


def settings():
    """The settings row, shared by every request of its revision: read it, never change it."""
    if "settings" not in g:
        g.settings = cache("settings").get_or_compute("settings", revision(), lambda: (Settings.load(), None))
    return g.settings


def forget_settings():
    """Drop what this request read after it changed the settings, so the rest of it sees the new values."""
    for name in ("settings", "revision", "base_url"):
        g.pop(name, None)
