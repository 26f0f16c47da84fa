"""The one version ordering (fenfa_lib/versions.py), as tables: versions and builds that compare below, equal
to or above one another, releases that sort by version, then build, then upload, and text that never raises."""
import random
from datetime import datetime
from types import SimpleNamespace

import pytest

from fenfa_lib.versions import compare_versions, highest_first, is_newer, version_key

BELOW = [  # (lower, higher)
    ("1.2.3", "1.2.4"),
    ("1.2.9", "1.10.0"),  # numbers, not text: 9 < 10
    ("1.9", "1.10"),
    ("0.9.9", "1.0"),
    ("1.2.3", "1.2.3.4"),  # dotted builds
    ("1.2.3.4", "1.2.3.10"),
    ("1.2.3.4", "1.2.4"),
    ("41", "100"),  # integer build codes
    ("9", "10"),
    ("99999999999999999999", "100000000000000000000"),  # past 64 bits
    ("1.0.4 [BETA]", "1.0.4"),  # a pre-release suffix sorts before the plain release
    ("1.0.3", "1.0.4 [BETA]"),
    ("1.0rc1", "1.0"),
    ("1.0.0-rc1", "1.0.0"),
    ("1.0-beta", "1.0"),
    ("2.0 alpha", "2.0"),
    ("2.0.0-rc.2", "2.0.0-rc.10"),
    ("2.0.0-rc.9", "2.0.0"),
    ("1.0.0-rc1", "1.0.0-rc2"),
    ("1.0.0-alpha", "1.0.0-alpha.1"),  # the SemVer 2.0.0 precedence example, pair by pair
    ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
    ("1.0.0-alpha.beta", "1.0.0-beta"),
    ("1.0.0-beta", "1.0.0-beta.2"),
    ("1.0.0-beta.2", "1.0.0-beta.11"),
    ("1.0.0-beta.11", "1.0.0-rc.1"),
    ("1.0.0-rc.1", "1.0.0"),
    ("1.0-dev", "1.0-alpha"),
    ("1.0-rc", "1.0-hotfix"),  # an unknown word ranks after rc, and is still before the plain release
    ("1.0-hotfix", "1.0"),
    ("1.0.0", "1.0.1-beta"),
    ("", "0"),  # empty sorts below everything
    ("", "abc"),
    ("abc", "0.1"),  # text without numbers sorts below every version with one
    ("beta", "1"),
    ("", "1.0"),
]
EQUAL = [
    ("1.2", "1.2.0"),
    ("1", "1.0.0"),
    ("v1.2.3", "1.2.3"),
    ("V2", "2.0"),
    ("1.2.3+45", "1.2.3"),  # SemVer build metadata is ignored
    ("1.0.4 [BETA]", "1.0.4-beta"),
    ("1.0.0RC1", "1.0.0-rc.1"),
    ("041", "41"),
    (" 1.0 ", "1.0"),
    ("", None),
    ("", "..."),
]
NEVER_RAISE = [None, 42, 1.5, b"1.0", [], "", " ", "v", "+", "+1", "-", "[]", "..", "\x00\x1f", "²", "١٤", "1²",
               "🙂", "测试版", "1.0 测试版", "٣.٤", "9" * 5000, "1." * 3000, "rc" * 500, "1.0-" + "a." * 2000]


@pytest.mark.parametrize("lower,higher", BELOW)
def test_lower_sorts_below_higher(lower, higher):
    assert compare_versions(lower, higher) == -1
    assert compare_versions(higher, lower) == 1
    assert version_key(lower) < version_key(higher)


@pytest.mark.parametrize("left,right", EQUAL)
def test_equal_versions(left, right):
    assert compare_versions(left, right) == 0


@pytest.mark.parametrize("text", NEVER_RAISE, ids=range(len(NEVER_RAISE)))
def test_any_input_has_a_place(text):
    key = version_key(text)
    assert version_key("") <= key
    assert compare_versions(text, "1.0") in (-1, 0, 1)
    assert sorted([version_key("2.0"), key, version_key("")])[0] == version_key("")  # comparable with any key


def test_the_tables_agree_with_one_sorted_list():
    ordered = ["", "abc", "0.9.9", "1.0-dev", "1.0.0-alpha", "1.0.0-beta.2", "1.0.0-rc.1", "1.0", "1.0.1-beta",
               "1.0.1", "1.2.3", "1.2.3.4", "1.2.3.10", "1.10", "2.0.0-rc.2", "2.0.0-rc.10", "2.0.0", "41", "100"]
    shuffled = ordered[:]
    random.Random(15).shuffle(shuffled)
    assert sorted(shuffled, key=version_key) == ordered


def release(version="", build="", second=0, release_id="rel_0"):
    return SimpleNamespace(version=version, build=build, created_at=datetime(2025, 1, 1, 0, 0, second),
                           id=release_id)


RELEASE_ORDER = [  # (lower, higher): version first, then build, then the newer upload
    (release("1.9", "500"), release("2.0", "1")),
    (release("2.0", "41"), release("2.0", "100")),
    (release("2.0-rc1", "900"), release("2.0", "100")),
    (release("2.0", "100", second=1), release("2.0", "100", second=5)),  # a tie: the newer upload wins
    (release("2.0", "", second=9), release("2.0", "1", second=1)),  # a build beats none
    (release("", "999"), release("0.1", "1")),  # a version beats none, whatever the builds
    (release("", "41"), release("", "100")),
    (release("1.0", second=1, release_id="rel_a"), release("1.0", second=1, release_id="rel_b")),
]


@pytest.mark.parametrize("lower,higher", RELEASE_ORDER)
def test_releases_sort_by_version_then_build_then_upload(lower, higher):
    assert highest_first([lower, higher]) == [higher, lower]
    assert highest_first([higher, lower]) == [higher, lower]


CLIENTS = [  # (release version, release build, client version, client build, newer)
    ("1.2.0", "42", "1.2.0", "41", True),
    ("1.2.0", "41", "1.2.0", "41", False),
    ("1.3.0", "10", "1.2.0", "41", True),  # version first
    ("1.1.0", "50", "1.2.0", "41", False),
    ("1.2.0", "42", None, "41", True),  # only a build
    ("1.2.0", "42", None, "100", False),
    ("1.2.0", "42", "1.1", None, True),  # only a version
    ("1.2.0", "42", "1.2", None, False),
    ("1.2.0", "42", "1.2.0-beta", None, True),
    ("1.2.0-rc.10", "", "1.2.0-rc.2", None, True),
    ("", "42", "1.0", None, False),  # nothing in common: not newer
    ("1.2.0", "", None, "41", False),
    ("1.2.0", "", "1.2.0", "41", False),
]


@pytest.mark.parametrize("version,build,client_version,client_build,newer", CLIENTS)
def test_is_newer_than_what_the_client_runs(version, build, client_version, client_build, newer):
    assert is_newer(release(version, build), client_version, client_build) is newer
