"""The small text checks used wherever untrusted text becomes a number or an identifier."""
import pytest

from fenfa_lib.text import is_ascii_number, is_single_token


@pytest.mark.parametrize("text,max_digits,expected", [
    ("0", 1, True), ("123", 3, True), ("1234", 3, False), ("", 3, False), ("²", 3, False), ("١٤", 3, False),
    ("1" * 5000, 12, False), ("-1", 3, False), ("+1", 3, False), (" 1", 3, False), ("1.0", 3, False),
])
def test_is_ascii_number(text, max_digits, expected):
    assert is_ascii_number(text, max_digits) is expected


@pytest.mark.parametrize("text,expected", [
    ("com.example.app", True), ("", False), ("a b", False), ("a\tb", False), ("a\u200bb", False),
    ("a\x00b", False), ("日本", True),
])
def test_is_single_token(text, expected):
    assert is_single_token(text) is expected
