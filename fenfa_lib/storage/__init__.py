"""Where release files are kept: a local folder or an S3 bucket, behind the same verbs.

Keys are relative, `/`-separated paths such as `prd_x/var_y/rel_z/My App 1.0.ipa`; every verb checks its key.
"""
import os
import shutil
import tempfile
import unicodedata
from pathlib import Path
from urllib.parse import quote

from fenfa_lib.config import DEFAULT_PRESIGN_SECONDS

ATTR_CHARS = "!#$&+^`|~"  # RFC 5987 attr-char punctuation that needs no percent-encoding
# The saved settings an S3 storage is built from (the Settings columns of these names), and which of them
# must be set, are secrets, and decide which bucket is reached.
S3_SETTING_KEYS = ("s3_endpoint", "s3_region", "s3_bucket", "s3_access_key", "s3_secret_key", "s3_public_url",
                   "s3_presign_seconds", "s3_path_style")
S3_REQUIRED_KEYS = ("s3_bucket", "s3_access_key", "s3_secret_key")
S3_SECRET_KEYS = ("s3_access_key", "s3_secret_key")
S3_CONNECTION_KEYS = tuple(key for key in S3_SETTING_KEYS if key not in ("s3_public_url", "s3_presign_seconds"))


class StorageError(Exception):
    """The storage cannot be used; the message says which storage and why."""


def validate_key(key):
    """Return `key` if it is a safe relative key, else raise ValueError."""
    if not isinstance(key, str) or not key:
        raise ValueError("storage key must be a non-empty string")
    if key.startswith("/") or "\\" in key or any(ord(char) < 32 for char in key):
        raise ValueError(f"invalid storage key {key!r}: absolute, backslash or control character")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}: empty, '.' or '..' segment")
    return key


def content_disposition(file_name):
    """An RFC 6266 attachment header: an ASCII fallback name plus the exact name as RFC 5987 UTF-8."""
    name = "".join(char for char in file_name if ord(char) >= 32 and ord(char) != 127)
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii") or "download"
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=ATTR_CHARS)}"


class LocalStorage:
    """Files under `root`. With `group_readable` (for a web server in Fenfa's group that sends them itself)
    folders are 0750 and files 0640; else whatever the umask leaves (0700 and 0600 under `python fenfa.py`)."""

    kind = "local"

    def __init__(self, root, group_readable=False):
        self.root = Path(root).resolve()
        self.group_readable = group_readable

    def _path(self, key):
        return self.root.joinpath(*validate_key(key).split("/"))

    def save_file(self, key, source_path):
        target = self._path(key)
        self._place(key, target, lambda: os.replace(source_path, target))

    def save_bytes(self, key, data, content_type=None):
        target = self._path(key)

        def write_then_rename():
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as temp_file:
                    temp_file.write(data)
                os.replace(temp_name, target)
            except BaseException:
                os.unlink(temp_name)
                raise

        self._place(key, target, write_then_rename)

    def _place(self, key, target, put):
        """Make the parent folders and run `put`; on failure raise StorageError and leave no empty folders."""
        for _attempt in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                put()
                if self.group_readable:
                    self._share(target)
                return
            except FileNotFoundError as exc:
                error = exc  # a concurrent delete_prefix may have pruned the new parent folder: try again
            except OSError as exc:
                error = exc
                break
        self._remove_empty_folders(target.parent)
        raise StorageError(f"cannot store {key} under {self.root}: {error}") from error

    def _share(self, target):
        target.chmod(0o640)
        for folder in [target.parent, *target.parent.parents]:
            folder.chmod(0o750)
            if folder == self.root.parent:  # the data dir, which nginx must pass through to reach uploads/
                return

    def open(self, key):
        return open(self._path(key), "rb")

    def size(self, key):
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"{key} not found under {self.root}")
        return path.stat().st_size

    def exists(self, key):
        return self._path(key).is_file()

    def delete(self, key):
        path = self._path(key)
        path.unlink(missing_ok=True)
        self._remove_empty_folders(path.parent)

    def delete_prefix(self, prefix):
        folder = self._path(prefix)
        if folder.is_dir():
            shutil.rmtree(folder)
        self._remove_empty_folders(folder.parent)

    def _remove_empty_folders(self, folder):
        """Remove `folder` and its parents up to (not including) the root while they are empty."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                return
            folder = folder.parent

    def local_path(self, key):
        return self._path(key)

    def download_url(self, key, file_name, content_type):
        validate_key(key)
        return None

    def check(self):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            raise StorageError(f"local storage {self.root} is not writable: {exc}") from exc


def build_storage(kind, data_dir, s3_settings, group_readable=False):
    """The storage for `kind` ('local' or 's3') from the data dir and the saved S3 settings."""
    if kind == "local":
        return LocalStorage(Path(data_dir) / "uploads", group_readable)
    if kind != "s3":
        raise StorageError(f"unknown storage type {kind!r}")
    for name in S3_REQUIRED_KEYS:
        if not s3_settings.get(name):
            raise StorageError(f"S3 is not configured: {name} is missing")
    from fenfa_lib.storage.s3 import S3Storage  # boto3 costs 80 ms and 10 MiB: only servers that use S3 pay

    return S3Storage(
        endpoint=s3_settings.get("s3_endpoint"),
        region=s3_settings.get("s3_region"),
        bucket=s3_settings["s3_bucket"],
        access_key=s3_settings["s3_access_key"],
        secret_key=s3_settings["s3_secret_key"],
        public_url=s3_settings.get("s3_public_url"),
        presign_seconds=s3_settings.get("s3_presign_seconds") or DEFAULT_PRESIGN_SECONDS,
        path_style=s3_settings.get("s3_path_style", True),
    )
