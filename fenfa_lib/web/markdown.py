"""Changelogs as a safe Markdown subset: paragraphs, lists, emphasis, code, quotes and links (which get
rel="nofollow noopener"); raw HTML is escaped, and headings and images are not offered."""
from functools import cache

from markupsafe import Markup


def _link_open(renderer, tokens, index, options, env):
    tokens[index].attrSet("rel", "nofollow noopener")
    return renderer.renderToken(tokens, index, options, env)


@cache
def markdown():
    """The renderer, built on the first changelog shown."""
    from markdown_it import MarkdownIt  # 20 ms at start-up: only pages with a changelog pay

    renderer = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(["heading", "lheading", "image", "hr"])
    renderer.add_render_rule("link_open", _link_open)
    return renderer


def changelog_html(text):
    """The changelog rendered; markdown-it escapes raw HTML and refuses javascript: and data: links."""
    return Markup(markdown().render(text or ""))
