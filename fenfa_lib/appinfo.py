"""What a parsed app package says about itself, the error for packages we cannot read, and bounded zip reads."""
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime

MIB = 1024 * 1024


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


@dataclass
class AppInfo:
    package_type: str  # "ipa" | "apk" | "aab"
    platform: str  # "ios" | "android"
    identifier: str
    version: str
    build: str
    display_name: str
    min_os: str | None = None  # iOS MinimumOSVersion, or the Android API level
    target_os: str | None = None  # iOS SDK the app was built with, or Android targetSdkVersion
    device_family: list[str] = field(default_factory=list)
    icon: bytes | None = None  # PNG or WebP
    profile: ProfileInfo | None = None
    installable: bool = True


def open_zip(path, kind):
    """Open a package as a zip archive, or raise PackageError naming the package kind."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise PackageError(f"{kind} file is not a zip archive") from exc


def read_member(archive, name, limit):
    """The member's bytes, decompressing at most `limit` bytes whatever its header claims."""
    try:
        with archive.open(name) as member:
            data = member.read(limit + 1)
    except KeyError as exc:
        raise PackageError(f"{name} is missing") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise PackageError(f"{name} cannot be read from the archive") from exc
    if len(data) > limit:
        raise PackageError(f"{name} is larger than {limit // MIB} MiB")
    return data


def read_optional(archive, name, limit):
    """Like read_member, but None when the member is missing, broken or too large."""
    try:
        return read_member(archive, name, limit)
    except PackageError:
        return None
