"""A real server receives an upload form's file part straight into its spool as the body arrives
(fenfa_lib/web/upload_body.py): the same release and answer as werkzeug's parse of the whole body, and nothing
left behind when the form is refused. The splitter is also fed tricky forms cut at every byte, and must read
them as werkzeug's parser does; a receiver whose disk is full refuses once the body is in."""
import errno
import hashlib
import io
import json
import random
import socket
import subprocess

import pytest
from test_upload_raw import live_variant, wait_until_empty
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser

from fenfa_lib.web import upload_body
from fenfa_lib.web.upload_body import FormSplitter, UploadReceiver

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, stored_files
from live import live_fenfa

TOKENS = {"admin_token": ADMIN_TOKEN, "upload_token": UPLOAD_TOKEN}
BOUNDARY = b"fenfa-b0undary"


def part(name, content, file_name=None, line_break=b"\r\n"):
    disposition = b'Content-Disposition: form-data; name="%s"' % name
    if file_name:
        disposition += b'; filename="%s"' % file_name
    return (b"--" + BOUNDARY + line_break + disposition + line_break + b"Content-Type: application/octet-stream"
            + line_break + line_break + content + line_break)


CLOSE = b"--" + BOUNDARY + b"--\r\n"
EXE = b"MZ" + bytes(range(256)) * 300


def send_form(server, body, token=UPLOAD_TOKEN):
    """(status, JSON answer) of a POST /upload with `body` sent in pieces, as a slow client would."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Auth-Token: " + token.encode()
                           + b"\r\nContent-Type: multipart/form-data; boundary=" + BOUNDARY
                           + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        for start in range(0, len(body), 7777):
            connection.sendall(body[start:start + 7777])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_fields_before_and_after_the_file_part_reach_the_release(data_dir, tmp_path):
    content = EXE + b"\r\n--" + BOUNDARY + b"X not a boundary\r\n" + EXE
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = live_variant(server, "windows", "com.example")
        body = (b"a preamble\r\n" + part(b"variant_id", variant["id"].encode()) + part(b"version", b"2.5")
                + part(b"app_file", content, b"setup.exe") + part(b"changelog", b"line one\r\nline two")
                + part(b"build", b"42") + CLOSE + b"an epilogue")
        status, answer = send_form(server, body)
        assert status == 201, answer
        release = answer["data"]["release"]
        assert (release["version"], release["build"], release["size_bytes"]) == ("2.5", "42", len(content))
        assert release["sha256"] == hashlib.sha256(content).hexdigest()
        folder = data_dir / "uploads" / variant["product_id"] / variant["id"] / release["id"]
        assert (folder / "setup.exe").read_bytes() == content
        assert wait_until_empty(data_dir / "tmp") == []


def test_curl_forms_are_received_with_their_hash(data_dir, tmp_path):
    build = tmp_path / "setup.exe"
    build.write_bytes(EXE * 50)
    with live_fenfa(data_dir, **TOKENS) as server:
        variant = live_variant(server, "windows", "com.example")
        result = subprocess.run(["curl", "-sS", "--fail-with-body", "-H", f"X-Auth-Token: {UPLOAD_TOKEN}",
                                 "-F", f"app_file=@{build}", "-F", f"variant_id={variant['id']}",
                                 f"{server.base}/upload"], capture_output=True, timeout=60, check=True)
        release = json.loads(result.stdout)["data"]["release"]
        assert release["sha256"] == hashlib.sha256(build.read_bytes()).hexdigest()
        assert wait_until_empty(data_dir / "tmp") == []


@pytest.mark.parametrize(("body_of", "status", "message"), [
    (lambda variant: part(b"variant_id", variant) + part(b"app_file", EXE, b"a.exe") + part(b"x", EXE, b"b.exe")
     + CLOSE, 400, "only one file"),
    (lambda variant: part(b"variant_id", variant) + part(b"app_file", EXE, b"a.exe"), 400, "ended inside"),
    (lambda variant: part(b"variant_id", variant) + part(b"app_file", EXE * 30, b"a.exe") + CLOSE, 413,
     "limit"),
    (lambda variant: part(b"variant_id", variant) + part(b"notes", EXE * 30) + CLOSE, 413, "fields"),
    (lambda variant: part(b"variant_id", variant) + part(b"app_file", b"PK\3\4" + EXE, b"a.apk") + CLOSE, 400,
     ".apk files are not accepted"),
    (lambda variant: part(b"variant_id", variant) + part(b"app_file", b"", b"a.exe") + CLOSE, 400, "empty"),
])
def test_refused_forms_leave_nothing(data_dir, body_of, status, message):
    with live_fenfa(data_dir, max_upload_mb=2, **TOKENS) as server:
        variant = live_variant(server, "windows", "com.example")
        answer_status, answer = send_form(server, body_of(variant["id"].encode()))
        assert (answer_status, answer["ok"]) == (status, False), answer
        assert message in answer["error"]["message"]
        assert stored_files(data_dir) == [] and wait_until_empty(data_dir / "tmp") == []


class MemorySpool(io.BytesIO):
    def seal(self):
        pass


def werkzeug_reading(body, spool=None):
    """("ok", fields, files) as werkzeug's parser reads `body` (taking `spool` as the first file's stream),
    or ("error",)."""
    files = []

    def stream_factory(**_):
        if files and spool is not None:
            raise ValueError("a second file part")
        files.append(spool if spool is not None else io.BytesIO())
        return files[-1]

    try:
        form, parsed = MultiPartParser(stream_factory).parse(io.BytesIO(body), BOUNDARY, len(body))
    except ValueError:
        return ("error",)
    return ("ok", sorted(form.items(multi=True)),
            [(name, upload.filename, upload.stream.getvalue()) for name, upload in parsed.items(multi=True)])


TRICKY_FORMS = {
    "fields around the file": part(b"variant_id", b"var_1") + part(b"app_file", EXE, b"a.exe") + part(b"v", b"1")
    + CLOSE,
    "line feeds only": part(b"v", b"x", line_break=b"\n")
    + part(b"app_file", b"a\r\n--" + BOUNDARY[:-1] + b"z\n", b"a.exe", line_break=b"\n") + b"--" + BOUNDARY + b"--",
    "carriage returns only": part(b"app_file", b"q\nq", b"a.exe", line_break=b"\r") + b"--" + BOUNDARY + b"--\r",
    "empty file": part(b"app_file", b"", b"a.exe") + CLOSE,
    "boundary look-alikes inside": part(b"app_file", b"x\r\n--" + BOUNDARY + b"X\r\n--" + BOUNDARY + b"-y--"
                                        + BOUNDARY, b"a.exe")
    + part(b"v", b"1").replace(BOUNDARY + b"\r\n", BOUNDARY + b" \t\r\n", 1) + CLOSE,
    "preamble and epilogue": b"pre\r\n" + part(b"app_file", b"a--" + BOUNDARY + b"b", b"a.exe") + CLOSE + b"post",
    "line breaks at the edges": part(b"app_file", b"\n\nabc\r" + b"\r" * 40, b"a.exe") + CLOSE,
    "two files": part(b"app_file", b"one", b"a.exe") + part(b"other", b"two", b"b.exe") + CLOSE,
    "no file": part(b"variant_id", b"v") + CLOSE,
    "no closing boundary": part(b"app_file", b"abc" * 50, b"a.exe"),
}


@pytest.mark.parametrize("name", TRICKY_FORMS)
def test_the_splitter_reads_a_form_as_werkzeug_does_however_it_arrives(monkeypatch, name):
    body = TRICKY_FORMS[name]
    monkeypatch.setattr(upload_body, "spool_for", lambda config: MemorySpool())
    expected = werkzeug_reading(body)
    if name == "two files":
        expected = ("error",)  # the upload routes refuse a second file part
    cuts = [[]] + [[at] for at in range(1, len(body))] + [list(range(1, len(body)))]
    randomly = random.Random(name)
    cuts += [sorted(randomly.sample(range(1, len(body)), 6)) for _ in range(30)]
    for cut in cuts:
        splitter = FormSplitter({}, BOUNDARY)
        try:
            for start, end in zip([0, *cut], [*cut, len(body)], strict=True):
                splitter.feed(body[start:end])
            splitter.end()
        except (BadRequest, RequestEntityTooLarge):
            assert expected == ("error",), (name, cut)
            continue
        assert werkzeug_reading(bytes(splitter.kept), splitter.spool) == expected, (name, cut)


class FullDisk:
    kept = b""
    spool = None

    def feed(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_receiving_is_507_once_the_body_is_read():
    receiver = UploadReceiver(100, FullDisk())
    assert receiver.received(b"x" * 60) == 60
    assert (receiver.completed, receiver.error) == (False, None)  # the client is still sending: read on
    assert receiver.received(b"x" * 60) == 40
    assert receiver.completed and receiver.error.code == 507
    assert "disk is full" in receiver.error.body
