"""The settings row, read once per request: a product page builds dozens of URLs from it."""
from flask import g

from fenfa_lib.models import Settings


def settings():
    if "settings" not in g:
        g.settings = Settings.load()
    return g.settings


def forget_settings():
    """Drop the cached row after it changed, so the rest of the request sees the new values."""
    g.pop("settings", None)
