"""S3-compatible storage through boto3: SigV4, multipart uploads, presigned downloads. Imported only when a
server stores in S3."""
import os
import threading
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
from fenfa_lib.storage import StorageError, content_disposition, validate_key

TRANSFER_CONFIG = TransferConfig(multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4)
MISSING_KEY_CODES = {"NoSuchKey", "NotFound", "404"}
DELETE_BATCH = 1000  # the most keys one DeleteObjects request accepts
SESSION_LOCK = threading.Lock()


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
