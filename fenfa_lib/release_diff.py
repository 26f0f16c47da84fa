"""What changed from one release of a variant to another: versions, size, OS bounds, permissions, entitlements,
native ABIs, provisioned devices, the profile and the Android signer, with warnings for what stops testers.

A field read from the package (release.metadata) is compared only when both releases have it: a release
uploaded before Fenfa read that field says nothing about it, which is not the same as having none."""
from fenfa_lib.errors import ApiError
from fenfa_lib.models import NEWEST_FIRST, Release, iso, utcnow
from fenfa_lib.uploads import PROFILE_EXPIRY_WARNING
from fenfa_lib.versions import compare_versions

LISTED_METADATA = ("permissions", "native_abis", "required_capabilities", "usage_descriptions", "url_schemes",
                   "app_extensions")  # release.metadata lists compared as sets: what was added, what removed
WARNINGS = {
    "signer_changed": "the Android signing certificate changed (SHA-256 {before} to {after}): devices with the "
                      "earlier build cannot update it in place; testers must uninstall it first, losing its data",
    "min_os_raised": "the minimum OS rose from {before} to {after}: devices below {after} cannot install this build",
    "profile_expired": "the provisioning profile expired on {date}: iOS refuses to install this build",
    "profile_expiring": "the provisioning profile expires on {date} (in less than {days} days): iOS refuses to "
                        "install this build after that",
    "profile_type_changed": "the provisioning profile changed from {before} to {after}: who can install the "
                            "build changes with it",
    "devices_removed": "{count} devices are no longer in the provisioning profile: they cannot install this build",
}


class DiffWarning(str):
    """A warning: its English sentence, as the API answers it, carrying its `code` and `values` so that the
    panel can word it in the reader's language."""

    def __new__(cls, code, **values):
        warning = super().__new__(cls, WARNINGS[code].format(**values))
        warning.code, warning.values = code, values
        return warning


def previous_release(release):
    """The release of the same variant uploaded just before `release`, or None for its first."""
    earlier = (Release.created_at < release.created_at) | (
        (Release.created_at == release.created_at) & (Release.id < release.id))
    return Release.select().where((Release.variant == release.variant_id) & earlier).order_by(*NEWEST_FIRST).first()


def release_to_compare(release, against_id=None):
    """The release `release` is compared with: `against_id`'s, which must be of the same variant, or else the
    previous one (404 when `release` is its variant's first)."""
    if not against_id:
        previous = previous_release(release)
        if previous is None:
            raise ApiError(404, f"release {release.id} is the first release of its variant: there is no previous "
                                "build to compare it with (name one with ?against=)")
        return previous
    other = Release.get_or_none(Release.id == against_id)
    if other is None:
        raise ApiError(404, f"release {against_id} not found")
    if other.variant_id != release.variant_id:
        raise ApiError(400, f"release {against_id} is of another variant than {release.id}: only releases of the "
                            "same variant are compared")
    return other


def diff(older, newer, now=None):
    """`{from, to, changes: [{field, before, after}], added, removed, warnings}` from `older` to `newer`; the
    size change has its `delta`, an entitlement's change its `key`; `added` and `removed` name only the fields
    that have some."""
    older_profile, newer_profile = (next(iter(release.profiles), None) for release in (older, newer))
    before, after = facts(older, older_profile), facts(newer, newer_profile)
    changes = [{"field": name, "before": before[name], "after": after[name]}
               for name in before if name in after and before[name] != after[name]]
    for change in changes:
        if change["field"] == "size_bytes":
            change["delta"] = change["after"] - change["before"]
    before_lists, after_lists = listed_facts(older, older_profile), listed_facts(newer, newer_profile)
    added, removed = {}, {}
    for name in before_lists.keys() & after_lists.keys():
        put_if_any(added, name, missing_from(before_lists[name], after_lists[name]))
        put_if_any(removed, name, missing_from(after_lists[name], before_lists[name]))
    entitlements = (older.metadata or {}).get("entitlements"), (newer.metadata or {}).get("entitlements")
    if all(isinstance(side, dict) for side in entitlements):
        changes += entitlement_changes(*entitlements, added, removed)
    return {
        "from": release_summary(older),
        "to": release_summary(newer),
        "changes": changes,
        "added": dict(sorted(added.items())),
        "removed": dict(sorted(removed.items())),
        "warnings": warnings(older, newer, (older_profile, newer_profile), removed, now or utcnow()),
    }


def facts(release, profile):
    """The single-valued fields compared (the Android signer only when the release's metadata has it)."""
    metadata = release.metadata or {}
    values = {
        "version": release.version,
        "build": release.build,
        "size_bytes": release.size_bytes,
        "min_os": release.min_os,
        "target_os": metadata.get("target_os"),
        "profile_type": profile.kind if profile else None,
        "profile_expires_at": iso(profile.expires_at) if profile else None,
    }
    if "signer_sha256" in metadata:
        values["signer_sha256"] = metadata["signer_sha256"]
    return values


def listed_facts(release, profile):
    """The list fields compared as sets: the profile's devices, and the metadata's lists the release has."""
    metadata = release.metadata or {}
    lists = {name: metadata[name] for name in LISTED_METADATA if isinstance(metadata.get(name), list)}
    lists["devices"] = list(profile.devices) if profile else []
    return lists


def missing_from(reference, items):
    """The items that `reference` lacks, in their order."""
    known = set(reference)
    return [item for item in items if item not in known]


def put_if_any(section, name, items):
    if items:
        section[name] = items


def entitlement_changes(before, after, added, removed):
    """Changed entitlement values as changes; new and dropped entitlements into `added` and `removed`."""
    put_if_any(added, "entitlements", {key: value for key, value in after.items() if key not in before})
    put_if_any(removed, "entitlements", {key: value for key, value in before.items() if key not in after})
    return [{"field": "entitlements", "key": key, "before": before[key], "after": after[key]}
            for key in after if key in before and before[key] != after[key]]


def warnings(older, newer, profiles, removed, now):
    """What stops testers from installing or updating `newer` (`profiles`: both releases' profiles, or None), as
    DiffWarnings."""
    older_profile, newer_profile = profiles
    found = []
    signers = (older.metadata or {}).get("signer_sha256"), (newer.metadata or {}).get("signer_sha256")
    if all(signers) and signers[0] != signers[1]:
        found.append(DiffWarning("signer_changed", before=signers[0], after=signers[1]))
    if older.min_os and newer.min_os and compare_versions(newer.min_os, older.min_os) > 0:
        platform = newer.variant.platform
        found.append(DiffWarning("min_os_raised", before=os_name(platform, older.min_os),
                                 after=os_name(platform, newer.min_os)))
    if older_profile and newer_profile and older_profile.kind != newer_profile.kind:
        found.append(DiffWarning("profile_type_changed", before=older_profile.kind, after=newer_profile.kind))
    if removed.get("devices"):
        found.append(DiffWarning("devices_removed", count=len(removed["devices"])))
    expires_at = newer_profile.expires_at if newer_profile else None
    if expires_at and expires_at <= now:
        found.append(DiffWarning("profile_expired", date=f"{expires_at:%Y-%m-%d}"))
    elif expires_at and expires_at - now <= PROFILE_EXPIRY_WARNING:
        found.append(DiffWarning("profile_expiring", date=f"{expires_at:%Y-%m-%d}", days=PROFILE_EXPIRY_WARNING.days))
    return found


def os_name(platform, min_os):
    """An OS bound as a reader knows it: Android's is an API level."""
    return f"Android API {min_os}" if platform == "android" else min_os


def release_summary(release):
    return {"id": release.id, "version": release.version, "build": release.build, "file_name": release.file_name,
            "created_at": iso(release.created_at)}
