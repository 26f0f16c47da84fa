"""Helpers of the access tests: a clock they move, and the install links a protected page shows."""
import re
from html import unescape
from urllib.parse import unquote, urlsplit

from fenfa_lib.models import utcnow

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
INSTALL_LINK = re.compile(r'href="(itms-services://[^"]+)"')
CLOCKED_MODULES = ("fenfa_lib.access", "fenfa_lib.revision", "fenfa_lib.web.access")


def moved_clock(monkeypatch):
    """The time access grants, tokens, share links and cached pages read, as a one-item list the test moves."""
    now = [utcnow()]
    for module in CLOCKED_MODULES:
        monkeypatch.setattr(f"{module}.utcnow", lambda: now[0])
    return now


def install_url(html):
    """The manifest URL of the page's first itms-services link."""
    link = unescape(INSTALL_LINK.search(html).group(1))
    return unquote(link.split("url=", 1)[1])


def local(url):
    """A URL the server built, as the path and query the test client opens."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
