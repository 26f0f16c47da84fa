"""Receiving uploaded files: werkzeug's form parser writes file parts straight into a temporary
file in the data dir while it is hashed and counted, so the body is written to disk once by
waitress and once here, and the final step into local storage is a rename."""
import hashlib
import os
import tempfile

from flask import Request, current_app
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from fenfa_lib.config import MIB, upload_limit_bytes
from fenfa_lib.data_dir_lock import hold
from fenfa_lib.web.envelope import upload_limit_message


class HashingSpool:
    """A temporary file that keeps the SHA-256 and size of everything written to it."""

    def __init__(self, directory, limit):
        descriptor, self.path = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
        self.claim = hold(self.path)  # until discard(): the sweeps leave a spool alone while it is held
        self.file = os.fdopen(descriptor, "w+b")
        self.digest = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def write(self, data):
        self.size += len(data)
        if self.size > self.limit:
            raise RequestEntityTooLarge(upload_limit_message(self.limit // MIB))
        self.digest.update(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    @property
    def sha256(self):
        return self.digest.hexdigest()

    def finish(self):
        """Flush to disk and close; the file stays at `self.path` for parsing and storing."""
        self.file.flush()
        self.file.close()

    def discard(self):
        self.file.close()
        os.close(self.claim)
        if os.path.exists(self.path):
            os.unlink(self.path)


class SpoolingRequest(Request):
    """Flask request whose one uploaded file goes to a HashingSpool, removed when the request ends."""

    max_form_parts = 32  # an upload form has a file and a few fields; werkzeug answers 413 beyond this

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        if self.__dict__.get("spools"):
            raise BadRequest("only one file can be sent per request")
        config = current_app.config["FENFA"]
        spool = HashingSpool(config["data_dir"] / "tmp", upload_limit_bytes(config))
        self.__dict__.setdefault("spools", []).append(spool)
        return spool

    def close(self):
        super().close()
        for spool in self.__dict__.get("spools", []):
            spool.discard()
