"""Changelogs as a safe Markdown subset: paragraphs, lists, emphasis, code, quotes and links (which get
rel="nofollow noopener"); raw HTML is escaped, and headings and images are not offered."""
from markdown_it import MarkdownIt
from markupsafe import Markup

MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(["heading", "lheading", "image", "hr"])


def _link_open(renderer, tokens, index, options, env):
    tokens[index].attrSet("rel", "nofollow noopener")
    return renderer.renderToken(tokens, index, options, env)


MARKDOWN.add_render_rule("link_open", _link_open)


def changelog_html(text):
    """The changelog rendered; markdown-it escapes raw HTML and refuses javascript: and data: links."""
    return Markup(MARKDOWN.render(text or ""))
