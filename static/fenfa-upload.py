#!/usr/bin/env python3
"""fenfa-upload: upload a build to a Fenfa server, from CI or a terminal (Python 3.8+, standard library only).

    python3 fenfa-upload.py build/app-release.apk --server https://apps.example.com --token "$UPLOAD_TOKEN"

Without --variant the server finds the variant by the package's platform and identifier (smart upload, a
multipart POST); with --variant the file is the body of PUT /upload/<file name>. Either way the file is read
and sent 1 MiB at a time. On GitHub Actions and GitLab CI the branch, commit and job URL are taken from the
job's variables unless given. A connection failure (or a 502, 503 or 504 from a proxy) is retried 3 times,
the file sent again from its start; pass --skip-duplicate so that a retry whose first answer was lost makes
no second release.

Exit status: 0 uploaded (or a skipped duplicate), 1 refused by the server or not reachable, 2 a usage error.
"""
import argparse
import http.client
import json
import os
import sys
import time
import uuid
from collections import namedtuple
from urllib.parse import quote, urlencode, urlsplit

CHUNK_BYTES = 1024 * 1024
RETRY_DELAYS = (1, 3, 9)  # seconds before each of the 3 retries
RETRIED_STATUSES = (502, 503, 504)
TIMEOUT_SECONDS = 300  # per connect, send or wait for the answer: the server hashes and parses after the body
MB = 1000 * 1000
BAR_WIDTH = 30
FIELDS = (("version", "version"), ("build", "build"), ("channel", "channel"), ("changelog", "changelog"),
          ("branch", "branch"), ("commit", "git_commit"), ("ci_url", "ci_url"))


Answer = namedtuple("Answer", "status reason body location")


class ConnectionFailure(Exception):
    """The server could not be reached, or the connection broke before its answer was read."""


class Refused(Exception):
    """The server answered with an error: its message, or the HTTP status when the answer is not Fenfa's."""


class Upload:
    """One request that carries the build: the bytes before and after the file's, and its headers."""

    def __init__(self, method, path, content_type, head, file_path, tail):
        self.method = method
        self.path = path
        self.content_type = content_type
        self.head = head
        self.file_path = file_path
        self.file_size = os.path.getsize(file_path)
        self.tail = tail

    @property
    def content_length(self):
        return len(self.head) + self.file_size + len(self.tail)


def main(argv=None, environ=None):
    environ = os.environ if environ is None else environ
    args = parse_arguments(argv, environ)
    server = urlsplit(args.server)
    upload = smart_upload(server, args, environ) if args.variant is None else raw_upload(server, args, environ)
    progress = Progress(os.path.basename(args.file), upload.file_size, sys.stderr)
    try:
        data = send_with_retries(server, args.token, upload, progress)
    except (ConnectionFailure, Refused) as error:
        print(f"fenfa-upload: {error}", file=sys.stderr)
        return 1
    report(data, args.json)
    return 0


def parse_arguments(argv, environ):
    parser = argparse.ArgumentParser(
        prog="fenfa-upload.py", description="Upload a build to a Fenfa server.",
        epilog="Exit status: 0 uploaded, 1 refused or not reachable, 2 usage error.")
    parser.add_argument("file", metavar="FILE",
                        help="the build: .ipa, .apk, .aab, or a desktop file (which needs --variant)")
    parser.add_argument("--server", metavar="URL", default=environ.get("FENFA_URL"),
                        help="the server's URL, e.g. https://apps.example.com (default: $FENFA_URL)")
    parser.add_argument("--token", metavar="T", default=environ.get("FENFA_TOKEN"),
                        help="an upload or admin token (default: $FENFA_TOKEN)")
    parser.add_argument("--variant", metavar="var_...",
                        help="the variant to upload to; without it the package's platform and identifier find it")
    parser.add_argument("--version", metavar="V", help="the version, in place of the package's")
    parser.add_argument("--build", metavar="N", help="the build number, in place of the package's")
    parser.add_argument("--channel", metavar="C", help="the release channel, e.g. beta")
    parser.add_argument("--changelog", metavar="TEXT", help="what changed")
    parser.add_argument("--branch", metavar="B", help="the branch the build is of")
    parser.add_argument("--commit", metavar="SHA", help="the commit the build is of (7 to 64 hex characters)")
    parser.add_argument("--ci-url", metavar="URL", help="the URL of the CI job that made the build")
    parser.add_argument("--skip-duplicate", action="store_true",
                        help="a file the variant already has is answered with that release; nothing is stored")
    parser.add_argument("--json", action="store_true", help="print the server's answer as JSON on stdout")
    args = parser.parse_args(argv)
    if not args.server:
        parser.error("the server is required: --server URL or FENFA_URL")
    if not is_server_url(args.server):
        parser.error(f"--server must be an http:// or https:// URL, not {args.server!r}")
    if not args.token:
        parser.error("a token is required: --token TOKEN or FENFA_TOKEN")
    if not args.token.isprintable():
        parser.error("the token must be printable text")
    if not os.path.isfile(args.file):
        parser.error(f"{args.file}: no such file")
    return args


def is_server_url(text):
    """Whether `text` is an http(s) URL with a host (and a valid port, if any), without a query or fragment."""
    try:
        parts = urlsplit(text)
        port_is_valid = parts.port != 0  # .port raises ValueError for one that is not a number up to 65535
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment
            and port_is_valid)


def form_fields(args, environ):
    """The upload's fields: the options given, else what the CI job's variables tell."""
    fields = dict(ci_fields(environ))
    fields.update((name, getattr(args, option)) for option, name in FIELDS if getattr(args, option))
    if args.skip_duplicate:
        fields["skip_duplicate"] = "true"
    return {name: value for name, value in fields.items() if value}


def ci_fields(environ):
    """source, and the branch, commit and job URL of a GitHub Actions or GitLab CI job."""
    if environ.get("GITHUB_ACTIONS") == "true":
        run = "{}/{}/actions/runs/{}".format(environ.get("GITHUB_SERVER_URL", "https://github.com"),
                                            environ.get("GITHUB_REPOSITORY"), environ.get("GITHUB_RUN_ID"))
        return {"source": "github-actions", "git_commit": environ.get("GITHUB_SHA"),
                "branch": environ.get("GITHUB_HEAD_REF") or environ.get("GITHUB_REF_NAME"),
                "ci_url": run if environ.get("GITHUB_REPOSITORY") and environ.get("GITHUB_RUN_ID") else None}
    if environ.get("GITLAB_CI") == "true":
        return {"source": "gitlab-ci", "branch": environ.get("CI_COMMIT_REF_NAME"),
                "git_commit": environ.get("CI_COMMIT_SHA"), "ci_url": environ.get("CI_JOB_URL")}
    return {"source": "fenfa-upload"}


def raw_upload(server, args, environ):
    """PUT /upload/<file name>?variant_id=…: the file is the whole body."""
    query = urlencode({"variant_id": args.variant, **form_fields(args, environ)})
    path = "{}/upload/{}?{}".format(server.path.rstrip("/"), quote(os.path.basename(args.file), safe=""), query)
    return Upload("PUT", path, "application/octet-stream", b"", args.file, b"")


def smart_upload(server, args, environ):
    """POST /admin/api/smart-upload: a multipart form whose last part is the file."""
    boundary = "fenfa-" + uuid.uuid4().hex
    head = b"".join(form_part(boundary, f'name="{name}"', value.encode())
                    for name, value in form_fields(args, environ).items())
    file_name = quoted(os.path.basename(args.file))
    head += part_header(boundary, f'name="app_file"; filename="{file_name}"', "application/octet-stream")
    tail = f"\r\n--{boundary}--\r\n".encode()
    path = server.path.rstrip("/") + "/admin/api/smart-upload"
    return Upload("POST", path, f"multipart/form-data; boundary={boundary}", head, args.file, tail)


def form_part(boundary, disposition, value):
    return part_header(boundary, disposition) + value + b"\r\n"


def part_header(boundary, disposition, content_type=None):
    lines = [f"--{boundary}", f"Content-Disposition: form-data; {disposition}"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def quoted(file_name):
    """A file name as a quoted string of a multipart header (as browsers send it: UTF-8, quotes escaped)."""
    return file_name.replace("\\", "%5C").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def send_with_retries(server, token, upload, progress):
    """The answer's data; a connection failure or a proxy's 502/503/504 is tried again after a pause."""
    for attempt, delay in enumerate(RETRY_DELAYS, start=2):
        try:
            return answer_data(send(server, token, upload, progress))
        except ConnectionFailure as failure:
            progress.note(f"{failure}; trying again in {delay} s (attempt {attempt} of {len(RETRY_DELAYS) + 1})")
            time.sleep(delay)
    return answer_data(send(server, token, upload, progress))


def send(server, token, upload, progress):
    """The Answer to one try: the file streamed from its start."""
    connection_class = http.client.HTTPSConnection if server.scheme == "https" else http.client.HTTPConnection
    port = server.port or (443 if server.scheme == "https" else 80)  # given, so that IPv6 hosts parse
    connection = connection_class(server.hostname, port, timeout=TIMEOUT_SECONDS)
    try:
        connection.putrequest(upload.method, upload.path, skip_accept_encoding=True)
        for name, value in (("X-Auth-Token", token), ("Content-Type", upload.content_type),
                            ("Content-Length", str(upload.content_length)), ("Accept", "application/json"),
                            ("User-Agent", "fenfa-upload/1")):
            connection.putheader(name, value)
        connection.endheaders()
        try:
            send_body(connection, upload, progress)
        except OSError:
            pass  # the server may have refused the upload and closed early: its answer is read below
        response = connection.getresponse()
        return Answer(response.status, response.reason, response.read(), response.getheader("Location"))
    except (OSError, http.client.HTTPException) as error:
        raise ConnectionFailure(f"cannot reach {server.geturl()}: {error or type(error).__name__}") from error
    finally:
        connection.close()


def send_body(connection, upload, progress):
    progress.start()
    connection.send(upload.head)
    with open(upload.file_path, "rb") as build:
        while True:
            chunk = build.read(CHUNK_BYTES)
            if not chunk:
                break
            connection.send(chunk)
            progress.advance(len(chunk))
    connection.send(upload.tail)
    progress.finish()


def answer_data(answer):
    """The data of a 2xx answer in Fenfa's envelope; else ConnectionFailure for a 502/503/504 (a proxy whose
    server is down, or a busy server), Refused for any other."""
    envelope = parsed_json(answer.body)
    if 200 <= answer.status < 300 and isinstance(envelope, dict) and envelope.get("ok") is True:
        return envelope.get("data")
    if answer.status in RETRIED_STATUSES:
        raise ConnectionFailure(f"server unavailable: {server_message(answer, envelope)}")
    raise Refused(f"refused: {server_message(answer, envelope)}")


def server_message(answer, envelope):
    """The envelope's error message with its status and code, or the bare HTTP status (and where a redirect
    points: an upload is not sent again to another address)."""
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return "{} ({} {})".format(error["message"], answer.status, error.get("code", answer.reason))
    if answer.location:
        return f"HTTP {answer.status} {answer.reason} to {answer.location}: give that address as the server"
    return f"HTTP {answer.status} {answer.reason}, not an answer of a Fenfa server"


def parsed_json(body):
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        return None


def report(data, as_json):
    """The answer as JSON, or the release and its links as lines; warnings go to stderr either way."""
    for warning in data.get("warnings") or []:
        print(f"fenfa-upload: warning: {warning}", file=sys.stderr)
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    release, urls = data.get("release") or {}, data.get("urls") or {}
    build = "({})".format(release["build"]) if release.get("build") else None
    what = " ".join(filter(None, (release.get("display_name") or data.get("app", {}).get("name"),
                                  release.get("version"), build)))
    done = "already uploaded, nothing stored" if data.get("duplicate") else "uploaded"
    print(f"{done}: {what} as {release.get('id')}")
    for label, key in (("page", "page"), ("release", "release_page"), ("download", "download"),
                       ("install", "ios_install")):
        if urls.get(key):
            print(f"{label + ':':<10}{urls[key]}")


class Progress:
    """The upload's progress on `stream`: a bar redrawn in place on a terminal, else a line every 10%."""

    def __init__(self, name, total, stream):
        self.name = name
        self.total = total
        self.stream = stream
        self.is_terminal = stream.isatty()
        self.start()

    def start(self):
        self.sent = 0
        self.shown_tenth = -1
        self.started = self.drawn_at = time.monotonic()

    def advance(self, count):
        self.sent += count
        percent = 100 * self.sent // self.total if self.total else 100
        if self.is_terminal:
            now = time.monotonic()
            if now - self.drawn_at >= 0.1 or self.sent == self.total:
                self.drawn_at = now
                self.draw_bar(percent, now)
        elif percent // 10 > self.shown_tenth:
            self.shown_tenth = percent // 10
            self.line(f"{self.name} {percent}% ({size_text(self.sent)} of {size_text(self.total)})")

    def draw_bar(self, percent, now):
        filled = BAR_WIDTH * percent // 100
        rate = self.sent / MB / max(now - self.started, 1e-6)
        self.stream.write("\r{} [{}{}] {:3d}% {} of {}, {:.1f} MB/s ".format(
            self.name, "#" * filled, "." * (BAR_WIDTH - filled), percent, size_text(self.sent),
            size_text(self.total), rate))
        self.stream.flush()

    def finish(self):
        if self.is_terminal:
            self.stream.write("\n")
        self.line("sent; waiting for the server's answer")

    def note(self, message):
        if self.is_terminal and self.sent < self.total:
            self.stream.write("\n")
        self.line(message)

    def line(self, message):
        self.stream.write(f"fenfa-upload: {message}\n")
        self.stream.flush()


def size_text(count):
    return f"{count / MB:.1f} MB" if count >= MB else f"{count / 1000:.1f} kB"


if __name__ == "__main__":
    sys.exit(main())
