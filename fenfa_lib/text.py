"""Checks on untrusted text (package metadata, form fields, tokens) that str's own predicates get subtly wrong."""
import re

# What XML 1.0 (plists, profiles) cannot carry, and no name or note needs: C0 and C1 controls and the two
# noncharacters; tabs and line breaks are allowed in multi-line text only.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff]")
CONTROL_CHARACTERS_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


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


def has_control_characters(text, multiline=False):
    """True when text holds characters a plist cannot carry (tabs and line breaks are fine when `multiline`)."""
    return bool((CONTROL_CHARACTERS_BUT_LINES if multiline else CONTROL_CHARACTERS).search(text))


def without_control_characters(text, multiline=False):
    """text with those characters removed: for metadata read from packages, and for what goes into a plist."""
    return (CONTROL_CHARACTERS_BUT_LINES if multiline else CONTROL_CHARACTERS).sub("", text)
