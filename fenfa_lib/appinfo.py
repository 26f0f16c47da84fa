"""What a parsed app package says about itself, and the error for packages we cannot read."""
from dataclasses import dataclass, field
from datetime import datetime


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

