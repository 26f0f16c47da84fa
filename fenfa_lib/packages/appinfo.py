"""What a parsed app package says about itself, the bounds on what it may say, and the error for packages we
cannot read."""
import logging
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from fenfa_lib.text import is_single_token, without_control_characters

log = logging.getLogger("fenfa")

MAX_IDENTIFIER_LENGTH = 255
MAX_DISPLAY_NAME_LENGTH = 255
MAX_VERSION_LENGTH = 64
MAX_OS_VERSION_LENGTH = 32
# What a parser bug or a file shaped in a way no check foresaw raises while metadata is extracted.
METADATA_ERRORS = (ValueError, TypeError, KeyError, IndexError, struct.error, RecursionError)


class PackageError(ValueError):
    """An uploaded package is not a readable app; the message is shown to the uploader."""


@dataclass
class ProfileInfo:
    kind: str  # "development" | "ad-hoc" | "enterprise" | "app-store"
    name: str
    uuid: str
    team_id: str | None
    team_name: str | None
    app_id: str | None
    created_at: datetime | None
    expires_at: datetime
    devices: list[str] = field(default_factory=list)
    certificates: list[dict] = field(default_factory=list)  # {"name": subject CN, "expires_at": datetime}
    entitlements: dict = field(default_factory=dict)  # JSON values only


MOBILE_PACKAGE_TYPES = ("ipa", "apk", "aab")


@dataclass
class AppInfo:
    """What a package says about itself; empty for a file that says nothing readable, such as an unparsed
    desktop installer."""

    package_type: str = ""  # "ipa" | "apk" | "aab", or a desktop file's extension: "deb", "msi", "zip"...
    platform: str = ""  # "ios" | "android" | "macos" | "windows" | "linux"
    identifier: str = ""
    version: str = ""
    build: str = ""
    display_name: str = ""
    min_os: str | None = None  # iOS MinimumOSVersion, or the Android API level
    target_os: str | None = None  # iOS SDK the app was built with, or Android targetSdkVersion
    device_family: list[str] = field(default_factory=list)
    icon: bytes | None = None  # PNG or WebP
    profile: ProfileInfo | None = None
    installable: bool = True
    metadata: dict = field(default_factory=dict)  # format-specific facts for admins (release.metadata): JSON values

    @property
    def is_app(self):
        """A phone app package: it names the app its variant must have."""
        return self.package_type in MOBILE_PACKAGE_TYPES

    @property
    def names_itself(self):
        """Whether smart upload can file it by platform and identifier: every phone app, and the desktop
        packages that carry an identifier (.deb, .rpm, .msi, .msix, .pkg, a macOS .app)."""
        return bool(self.package_type and self.identifier)


@contextmanager
def metadata_errors_as_package_error(kind):
    """Turn an unexpected error in the block into PackageError("<kind> metadata cannot be read"), so that a
    hostile file is a 400 and not a 500; PackageErrors pass through with their own message."""
    try:
        yield
    except PackageError:
        raise
    except METADATA_ERRORS as exc:
        log.warning("unexpected error reading %s metadata", kind, exc_info=True)
        raise PackageError(f"{kind} metadata cannot be read") from exc


def checked_identifier(identifier, what):
    """The identifier, or PackageError("<what> is not valid") when it is empty, too long, or holds whitespace
    or control characters."""
    if len(identifier) > MAX_IDENTIFIER_LENGTH or not is_single_token(identifier):
        raise PackageError(f"{what} is not valid")
    return identifier


def checked_version(value, key):
    """A version or build of at most MAX_VERSION_LENGTH characters. A longer one is refused rather than cut,
    since a cut version would name another release."""
    if value and len(value) > MAX_VERSION_LENGTH:
        raise PackageError(f"{key} is longer than {MAX_VERSION_LENGTH} characters")
    if value and not value.isprintable():
        raise PackageError(f"{key} holds control characters")
    return value


def clipped(value, limit):
    """Informational text (a name, an OS version) without control characters, cut to `limit` characters; None
    stays None."""
    return without_control_characters(value)[:limit] if value else value
