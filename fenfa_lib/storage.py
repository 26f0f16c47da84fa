"""Where release files are kept: a local folder or an S3 bucket, behind the same verbs.

Keys are relative, `/`-separated paths such as `prd_x/var_y/rel_z/My App 1.0.ipa`; every verb checks its key.
"""
import os
import shutil
import tempfile
import threading
import unicodedata
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from urllib.parse import quote

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fenfa_lib.config import DEFAULT_PRESIGN_SECONDS, MIB

TRANSFER_CONFIG = TransferConfig(multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4)
MISSING_KEY_CODES = {"NoSuchKey", "NotFound", "404"}
DELETE_BATCH = 1000  # the most keys one DeleteObjects request accepts
ATTR_CHARS = "!#$&+^`|~"  # RFC 5987 attr-char punctuation that needs no percent-encoding
SESSION_LOCK = threading.Lock()
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


class S3Storage:
    kind = "s3"

    def __init__(self, endpoint, region, bucket, access_key, secret_key, public_url=None,
                 presign_seconds=DEFAULT_PRESIGN_SECONDS, path_style=True):
        self.endpoint = endpoint or None
        self.bucket = bucket
        self.public_url = (public_url or "").rstrip("/") or None
        self.presign_seconds = int(presign_seconds)
        config = Config(
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=60,
            retries={"total_max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path" if path_style else "virtual"},
            # Checksums only where S3 requires them: some S3-compatible servers reject the ones boto3 adds by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # One shared session caches the service model (a client then costs ~4 ms instead of ~65 ms);
        # sessions are not thread-safe, clients are.
        try:
            with SESSION_LOCK:
                self.client = _shared_session().client(
                    "s3", endpoint_url=self.endpoint, region_name=region or "us-east-1",
                    aws_access_key_id=access_key, aws_secret_access_key=secret_key, config=config,
                )
        except (BotoCoreError, ValueError) as exc:
            raise StorageError(f"S3 settings are not usable: {exc}") from exc

    @contextmanager
    def _errors(self, action, key):
        """Turn boto errors into FileNotFoundError (no such key) or StorageError (anything else)."""
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _error_code(exc) in MISSING_KEY_CODES:
                raise FileNotFoundError(f"{key} not found in bucket {self.bucket}") from exc
            raise StorageError(f"S3 {action} {key} in bucket {self.bucket} failed: {_describe(exc)}") from exc

    def save_file(self, key, source_path):
        validate_key(key)
        try:
            self.client.upload_file(os.fspath(source_path), self.bucket, key, Config=TRANSFER_CONFIG)
        except (ClientError, BotoCoreError, S3UploadFailedError, OSError) as exc:
            self._delete_partial(key)
            raise StorageError(f"S3 upload {key} to bucket {self.bucket} failed: {_describe(exc)}") from exc
        Path(source_path).unlink(missing_ok=True)

    def save_bytes(self, key, data, content_type=None):
        validate_key(key)
        with self._errors("put", key):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type or "application/octet-stream"
            )

    def _delete_partial(self, key):
        with suppress(StorageError):
            self.delete(key)

    def open(self, key):
        validate_key(key)
        with self._errors("get", key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def size(self, key):
        validate_key(key)
        with self._errors("head", key):
            return self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]

    def exists(self, key):
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key):
        validate_key(key)
        with suppress(FileNotFoundError), self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix):
        folder = validate_key(prefix) + "/"
        with self._errors("delete", folder):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder, PaginationConfig={"PageSize": DELETE_BATCH}
            )
            # A page holds at most DELETE_BATCH keys, so each page is one DeleteObjects request.
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not keys:
                    continue
                result = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                if result.get("Errors"):
                    error = result["Errors"][0]
                    raise StorageError(
                        f"S3 delete {error.get('Key')} in bucket {self.bucket} failed: "
                        f"{error.get('Code')} {error.get('Message', '')}".rstrip()
                    )

    def local_path(self, key):
        validate_key(key)
        return None

    def download_url(self, key, file_name, content_type):
        validate_key(key)
        if self.public_url:
            return f"{self.public_url}/{quote(key)}"
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": content_disposition(file_name)}
        if content_type:
            params["ResponseContentType"] = content_type
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_seconds)

    def check(self):
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            where = f"bucket {self.bucket} at {self.endpoint or 'AWS'}"
            raise StorageError(f"S3 {where} is not usable: {_describe(exc)}") from exc


@cache
def _shared_session():
    return boto3.session.Session()


def _error_code(exc):
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc):
    if not isinstance(exc, ClientError):
        return str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = exc.response.get("Error", {}).get("Message")
    return " ".join(filter(None, [_error_code(exc), message, f"(HTTP {status})"]))


def build_storage(kind, data_dir, s3_settings, group_readable=False):
    """The storage for `kind` ('local' or 's3') from the data dir and the saved S3 settings."""
    if kind == "local":
        return LocalStorage(Path(data_dir) / "uploads", group_readable)
    if kind != "s3":
        raise StorageError(f"unknown storage type {kind!r}")
    for name in S3_REQUIRED_KEYS:
        if not s3_settings.get(name):
            raise StorageError(f"S3 is not configured: {name} is missing")
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
