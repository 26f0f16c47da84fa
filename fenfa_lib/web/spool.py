"""Receiving uploaded files: each goes once to a temporary file in the data dir, counted as it is written and
hashed by a thread that reads it just behind the writer (SHA-256 releases the GIL, so hashing runs beside
receiving), and the final step into local storage is a rename. Under waitress the file arrives straight in
its spool (fenfa_lib/web/upload_body.py); elsewhere werkzeug's form parser, or the view of a raw body, writes
it there."""
import hashlib
import os
import tempfile
import threading
import weakref

from flask import Request, current_app
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from fenfa_lib.config import MIB, upload_limit_bytes
from fenfa_lib.data_dir_lock import hold
from fenfa_lib.web.envelope import upload_limit_message

HASH_STEP = MIB  # bytes the hashing thread reads at a time


class HashingSpool:
    """A temporary file that keeps the size and SHA-256 of everything written to it. A spool nobody discards
    (its request went away mid-body) removes its file when it is collected."""

    def __init__(self, directory, limit):
        descriptor, self.path = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
        claim = hold(self.path)  # until discarded: the sweeps leave a spool alone while it is held
        self.file = os.fdopen(descriptor, "w+b", buffering=0)  # unbuffered: the hashing thread reads the file
        self.hashing = TrailingHash(descriptor)
        self.size = 0
        self.limit = limit
        self.sealed = False
        self.discard = weakref.finalize(self, remove_spool, self.path, self.file, claim, self.hashing)

    def write(self, data):
        if self.sealed and data:
            raise BadRequest("the form's file part could not be read")
        self.size += len(data)
        if self.size > self.limit:
            raise RequestEntityTooLarge(upload_limit_message(self.limit // MIB))
        view = memoryview(data)
        while view:
            view = view[self.file.write(view):]
        self.hashing.wrote_up_to(self.size)
        return len(data)

    def seal(self):
        """No more bytes: the file is complete (werkzeug's parser may still write an empty part to it)."""
        self.sealed = True

    def __getattr__(self, name):
        return getattr(self.file, name)

    def finish(self):
        """Wait for the hash of the whole file and close it; the file stays at `self.path` for parsing and
        storing."""
        self.sha256 = self.hashing.hexdigest()
        self.file.close()


def remove_spool(path, file, claim, hashing):
    hashing.stop()
    file.close()
    os.close(claim)
    if os.path.exists(path):
        os.unlink(path)


class TrailingHash:
    """The SHA-256 of a file while it is written, computed by a thread that reads what the writer announced."""

    def __init__(self, descriptor):
        self.descriptor = descriptor
        self.digest = hashlib.sha256()
        self.written = 0
        self.ending = self.stopped = False
        self.failure = None
        self.condition = threading.Condition()
        self.thread = threading.Thread(target=self.run, name="fenfa-hash", daemon=True)
        self.thread.start()

    def wrote_up_to(self, size):
        with self.condition:
            self.written = size
            self.condition.notify()

    def hexdigest(self):
        """The digest of everything written, once the thread has read the rest."""
        self.end(stop=False)
        if self.failure:
            raise self.failure
        return self.digest.hexdigest()

    def stop(self):
        self.end(stop=True)

    def end(self, stop):
        with self.condition:
            self.ending, self.stopped = True, stop
            self.condition.notify()
        self.thread.join()

    def run(self):
        buffer = bytearray(HASH_STEP)  # reused: a fresh megabyte for every read costs more than hashing it
        view = memoryview(buffer)
        hashed = 0
        while True:
            with self.condition:
                while not (self.ending or self.written - hashed >= HASH_STEP):
                    self.condition.wait()
                if self.stopped:
                    return
                written, ending = self.written, self.ending
            try:
                while hashed < written:
                    count = os.preadv(self.descriptor, [view[:min(HASH_STEP, written - hashed)]], hashed)
                    if not count:
                        raise OSError(f"the spool ended at {hashed} of {written} bytes")
                    self.digest.update(view[:count])
                    hashed += count
            except OSError as exc:
                self.failure = exc
                return
            if ending:
                return


def spool_for(config):
    """A new spool in the data dir, for a file up to the upload limit."""
    return HashingSpool(config["data_dir"] / "tmp", upload_limit_bytes(config))


class SpoolingRequest(Request):
    """Flask request whose one uploaded file goes to a HashingSpool (the one the body arrived in, under
    waitress), removed when the request ends."""

    max_form_parts = 32  # an upload form has a file and a few fields; werkzeug answers 413 beyond this

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        if self.__dict__.get("spools"):
            raise BadRequest("only one file can be sent per request")
        return self.keep(self.received_spool() or spool_for(current_app.config["FENFA"]))

    def body_spool(self):
        """The raw body as a spool: the one it arrived in, or a copy of the body stream."""
        spool = self.received_spool()
        if spool is None:
            spool = self.keep(spool_for(current_app.config["FENFA"]))
            while data := self.stream.read(MIB):
                spool.write(data)
        return self.keep(spool)

    def received_spool(self):
        return getattr(self.environ.get("wsgi.input"), "spool", None)

    def keep(self, spool):
        spools = self.__dict__.setdefault("spools", [])
        if spool not in spools:
            spools.append(spool)
        return spool

    def close(self):
        super().close()
        for spool in self.__dict__.get("spools", []):
            spool.discard()
