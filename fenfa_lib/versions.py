"""The one version ordering: which of two releases is newer, for the update check and the `latest` links. The
newest release is the highest version, not the last upload.

A version is read as dotted numbers and, after them, an optional pre-release suffix: `2.0.0-rc.10` is the
numbers (2, 0, 0) and the suffix `rc 10`; `1.0.4 [BETA]`, `1.0rc1` and `3.1 beta` have suffixes too. Numbers
compare numerically and segment by segment, missing segments counting as 0 (`1.2` equals `1.2.0`). A release
with a suffix sorts before the plain release of the same numbers; suffixes compare part by part, a number below
a word (as in SemVer), `dev` < `alpha` < `beta` < `pre` < `rc` < any other word, other words alphabetically. A
leading `v` and SemVer build metadata (`+…`) are ignored. Builds follow the same rule, so integer builds
compare as integers (`41` < `100`) and dotted builds as dotted numbers. Any text has a place: text without a
number sorts below every version that has one, and an empty value below everything; nothing raises.

Releases compare by version first, then by build, then by upload time (the newer upload wins a tie), then by
ID. A release without a version sorts below any that has one, whatever its build: a total order, so that
sorting and `max` agree."""
import re

MAX_COMPARED_CHARACTERS = 128  # longer text is compared on its start; keeps int() far below its digit limit
TOKEN = re.compile(r"([0-9]+)|([^\W\d_]+)")  # runs of ASCII digits, runs of letters; the rest separates them
LEADING_V = re.compile(r"^v(?=[0-9])")
PRE_RELEASE_RANKS = {"dev": 0, "snapshot": 0, "alpha": 1, "a": 1, "beta": 2, "b": 2, "pre": 3, "preview": 3,
                     "rc": 4, "c": 4}
OTHER_WORD_RANK = len(set(PRE_RELEASE_RANKS.values()))
EMPTY = (0,)


def version_key(text):
    """A sort key for a version or build text (None and non-text count as empty); compare it only with
    other keys of this function."""
    if not isinstance(text, str):
        return EMPTY
    text = LEADING_V.sub("", text.strip().lower()[:MAX_COMPARED_CHARACTERS].split("+", 1)[0])
    tokens = TOKEN.findall(text)
    if not tokens:
        return EMPTY
    count = next((index for index, (number, _) in enumerate(tokens) if not number), len(tokens))
    numbers = [int(number) for number, _ in tokens[:count]]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    suffix = tuple(suffix_part(number, word) for number, word in tokens[count:])
    return (1, tuple(numbers), 0 if suffix else 1, suffix)


def suffix_part(number, word):
    if number:
        return (0, int(number))
    return (1, PRE_RELEASE_RANKS.get(word, OTHER_WORD_RANK), word)


def compare_versions(left, right):
    """-1, 0 or 1 as version (or build) text `left` is below, equal to or above `right`."""
    left_key, right_key = version_key(left), version_key(right)
    return (left_key > right_key) - (left_key < right_key)


def release_key(release):
    """The sort key of a release (anything with version, build, created_at and id): higher is newer."""
    return version_key(release.version), version_key(release.build), release.created_at, release.id


def highest_first(releases):
    return sorted(releases, key=release_key, reverse=True)


def is_newer(release, version=None, build=None):
    """Whether `release` is above a client that runs `version` and/or `build`: version first, then build,
    on the fields both name. A release that names neither of the client's fields is not newer: nothing says so."""
    for mine, theirs in ((release.version, version), (release.build, build)):
        if mine and theirs:
            order = compare_versions(mine, theirs)
            if order:
                return order > 0
    return False
