"""Checks on untrusted text (package metadata, form fields, tokens) that str's own predicates get subtly wrong."""


def is_ascii_number(text, max_digits):
    """True when text is 1 to max_digits ASCII digits: a number int() reads exactly as written."""
    # Not str.isdigit(): it is true for "²", which int() refuses. Not str.isdecimal(): it is true for other
    # scripts' digits such as "١٤", which int() reads but no package or token writes. The bound keeps int()
    # cheap and under the 4300 digits it refuses.
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def is_single_token(text):
    """True when text is non-empty and printable with no whitespace: no spaces, line breaks or control
    characters."""
    return bool(text) and text.isprintable() and not any(character.isspace() for character in text)
