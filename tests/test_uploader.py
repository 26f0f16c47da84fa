"""GET /fenfa-upload.py and the uploader it serves (SPEC §11), run as a subprocess against a live server: links,
--json, refusals, usage errors, the environment, retries, progress, and PUT or smart upload."""
import ast
import hashlib
import http.server
import importlib.util
import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN
from live import REPO, free_port, live_fenfa

SCRIPT = REPO / "static" / "fenfa-upload.py"
APK = "android-politedroid-minsdk3-tiny.apk"
BIG_APK = "android-appinfodemo-obfuscated-res-adaptive.apk"  # 4 MB: several chunks, and a body worth cutting
UNKNOWN_APK = "android-jamendo-minsdk4.apk"  # no variant has its identifier
IPA = "ios-iphone-binary-plist-no-icons.ipa"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def interpreters():
    """This Python, Debian's python3 and a Python 3.8 (on the PATH, or one pyenv installed) where there are, as
    real paths, each once."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [sys.executable, "/usr/bin/python3", shutil.which("python3.8"),
                  *map(str, sorted(pyenv.glob("versions/3.8.*/bin/python3.8")))]
    found = {}
    for candidate in (path for path in candidates if path and os.path.exists(path)):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= (3, 8), sys.executable)"],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode == 0 and probe.stdout.startswith("True "):
            found.setdefault(os.path.realpath(probe.stdout.split(" ", 1)[1].strip()), candidate)
    return list(found.values())


PYTHONS = interpreters()


def admin(server, method, path, body=None):
    request = urllib.request.Request(server.base + path, method=method, headers={"X-Auth-Token": ADMIN_TOKEN},
                                     data=json.dumps(body).encode() if body else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server with an Android, an iOS and a Windows variant (`server.variants` by platform)."""
    data_dir = tmp_path_factory.mktemp("uploader") / "data"
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN) as live:
        product = admin(live, "POST", "/admin/api/products", {"name": "Demo", "slug": "demo"})["product"]
        live.variants = {platform: admin(live, "POST", f"/admin/api/products/{product['id']}/variants", {
            "platform": platform, "display_name": platform, "identifier": identifier})["variant"]["id"]
            for platform, identifier in (("android", "com.politedroid"), ("ios", "com.icyleaf.AppInfoDemo"),
                                         ("windows", "com.example.demo"))}
        admin(live, "POST", f"/admin/api/products/{product['id']}/variants",
              {"platform": "android", "display_name": "Big", "identifier": "com.icyleaf.appinfodemo"})
        yield live


@pytest.fixture(scope="module")
def script(server, tmp_path_factory):
    """The uploader as a CI job gets it: downloaded from the server."""
    path = tmp_path_factory.mktemp("script") / "fenfa-upload.py"
    with urllib.request.urlopen(f"{server.base}/fenfa-upload.py", timeout=30) as response:
        path.write_bytes(response.read())
    return path


@pytest.fixture
def uploader():
    """The script as a module, for the tests that watch its retries from inside."""
    spec = importlib.util.spec_from_file_location("fenfa_upload", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(script, *arguments, python=sys.executable, env=None, stderr=subprocess.PIPE):
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    return subprocess.run([python, str(script), *map(str, arguments)], env=environment, stdout=subprocess.PIPE,
                          stderr=stderr, text=True, timeout=120)


def upload(server, script, file_name, *arguments, **kwargs):
    path = require_samples() / file_name if isinstance(file_name, str) else file_name
    return run(script, path, "--server", server.base, "--token", UPLOAD_TOKEN, *arguments, **kwargs)


def links(stdout):
    """{label: URL} of the lines the uploader prints after the first."""
    return {label: url.strip() for label, url in (line.split(":", 1) for line in stdout.splitlines()[1:])}


def exe_file(tmp_path, seed, size=4096):
    path = tmp_path / f"{seed}.exe"
    path.write_bytes(b"MZ" + hashlib.sha256(seed.encode()).digest() * (size // 32))
    return path


def test_the_server_serves_the_script_it_carries(server):
    with urllib.request.urlopen(f"{server.base}/fenfa-upload.py", timeout=30) as response:
        assert response.headers.get_content_type() == "text/x-python"
        assert response.headers["Content-Disposition"] == "attachment; filename=fenfa-upload.py"
        assert response.read() == SCRIPT.read_bytes()


def test_the_script_parses_as_python_3_8():
    ast.parse(SCRIPT.read_text("utf-8"), feature_version=(3, 8))
    with pytest.raises(SyntaxError):  # the check would see a 3.10 match statement
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 8))


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("file_name, platform, labels", [
    (APK, "android", ["page", "release", "download"]),
    (IPA, "ios", ["page", "release", "download", "install"]),
])
def test_a_smart_upload_prints_its_links(server, script, python, file_name, platform, labels):
    result = upload(server, script, file_name, "--channel", "beta", python=python)
    assert result.returncode == 0, result.stderr
    first_line = result.stdout.splitlines()[0]
    assert first_line.startswith("uploaded: ") and " as rel_" in first_line
    printed = links(result.stdout)
    assert list(printed) == labels
    release_id = first_line.rsplit(" as ", 1)[1]
    assert printed["download"] == f"{server.base}/d/{release_id}"
    assert printed["page"] == f"{server.base}/products/demo"
    if platform == "ios":
        assert printed["install"].startswith("itms-services://?action=download-manifest&url=")
    with urllib.request.urlopen(printed["download"], timeout=30) as response:
        assert response.read() == (require_samples() / file_name).read_bytes()
    assert "POST /admin/api/smart-upload 201" in server.log()


def test_json_prints_the_answer_data(server, script):
    result = upload(server, script, APK, "--json", "--version", "9.9", "--build", "99", "--changelog", "Fixes",
                    "--branch", "main", "--commit", COMMIT, "--ci-url", "https://ci.example.com/jobs/1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["app"]["variant_id"] == server.variants["android"]
    assert data["urls"]["download"] == f"{server.base}/d/{data['release']['id']}"
    assert (data["release"]["version"], data["release"]["build"], data["release"]["changelog"]) == ("9.9", "99",
                                                                                                       "Fixes")
    assert data["release"]["ci"] == {"branch": "main", "git_commit": COMMIT, "ci_url": "https://ci.example.com/jobs/1",
                                     "source": "fenfa-upload"}
    assert data["duplicate"] is False


@pytest.mark.parametrize("env, expected", [
    ({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "main", "GITHUB_SHA": COMMIT, "GITHUB_REPOSITORY": "o/app",
      "GITHUB_RUN_ID": "7", "GITHUB_SERVER_URL": "https://github.com"},
     {"branch": "main", "git_commit": COMMIT, "ci_url": "https://github.com/o/app/actions/runs/7",
      "source": "github-actions"}),
    ({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "release/2", "CI_COMMIT_SHA": COMMIT,
      "CI_JOB_URL": "https://gitlab.example.com/o/app/-/jobs/8"},
     {"branch": "release/2", "git_commit": COMMIT, "ci_url": "https://gitlab.example.com/o/app/-/jobs/8",
      "source": "gitlab-ci"}),
])
def test_ci_variables_fill_the_ci_fields(server, script, env, expected):
    result = upload(server, script, APK, "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["release"]["ci"] == expected


def test_server_and_token_from_the_environment(server, script):
    result = run(script, require_samples() / APK, "--json",
                 env={"FENFA_URL": server.base + "/", "FENFA_TOKEN": UPLOAD_TOKEN})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["release"]["id"].startswith("rel_")


@pytest.mark.parametrize("python", PYTHONS)
def test_variant_sends_the_file_as_the_body_of_a_put(server, script, tmp_path, python):
    build = exe_file(tmp_path, f"put-{PYTHONS.index(python)}")
    result = upload(server, script, build, "--variant", server.variants["windows"], "--version", "1.0", "--json",
                    python=python)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["app"]["variant_id"], data["release"]["sha256"]) == (
        server.variants["windows"], hashlib.sha256(build.read_bytes()).hexdigest())
    assert f"PUT /upload/{build.name} 201" in server.log()


def test_skip_duplicate_answers_the_earlier_release(server, script, tmp_path):
    build = exe_file(tmp_path, "duplicate")
    arguments = ("--variant", server.variants["windows"], "--skip-duplicate")
    first, again = (upload(server, script, build, *arguments) for _ in range(2))
    assert first.returncode == again.returncode == 0, again.stderr
    assert first.stdout.splitlines()[0].startswith("uploaded: ")
    assert again.stdout.splitlines()[0] == first.stdout.splitlines()[0].replace(
        "uploaded:", "already uploaded, nothing stored:")


@pytest.mark.parametrize("file_name, arguments, message, status", [
    (APK, ["--token", "not-a-token"], "invalid token", "401 UNAUTHORIZED"),
    (APK, ["--build", "abc"], "build must be a non-negative integer", "400 BAD_REQUEST"),
    (APK, ["--variant", "var_0000000000000000"], "variant", "404 NOT_FOUND"),
    (UNKNOWN_APK, [], "no variant has platform android and identifier com.teleca.jamendo", "403 FORBIDDEN"),
])
def test_a_refusal_exits_1_with_the_servers_message(server, script, file_name, arguments, message, status):
    result = upload(server, script, file_name, *arguments)
    assert result.returncode == 1
    assert result.stdout == ""
    last_line = result.stderr.splitlines()[-1]
    assert last_line.startswith(f"fenfa-upload: refused: {message}") and last_line.endswith(f" ({status})")


def test_a_large_upload_with_a_bad_token_is_refused_before_its_body(server, script, tmp_path):
    build = exe_file(tmp_path, "large", size=64 * 1024 * 1024)
    result = upload(server, script, build, "--variant", server.variants["windows"], "--token", "not-a-token")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "fenfa-upload: refused: invalid token (401 UNAUTHORIZED)"


@pytest.mark.parametrize("arguments, env, message", [
    ([], {}, "the following arguments are required: FILE"),
    (["{apk}", "--bogus"], {"FENFA_URL": "http://127.0.0.1:9", "FENFA_TOKEN": "t"}, "unrecognized arguments"),
    (["{apk}"], {"FENFA_TOKEN": "t"}, "the server is required"),
    (["{apk}"], {"FENFA_URL": "http://127.0.0.1:9"}, "a token is required"),
    (["{apk}", "--server", "ftp://example.com", "--token", "t"], {}, "must be an http:// or https:// URL"),
    (["{apk}", "--server", "http://127.0.0.1:port", "--token", "t"], {}, "must be an http:// or https:// URL"),
    (["{apk}", "--server", "https://example.com/?a=1", "--token", "t"], {}, "must be an http:// or https:// URL"),
    (["{apk}", "--server", "http://127.0.0.1:9", "--token", "a\tb"], {}, "the token must be printable"),
    (["missing.apk", "--server", "http://127.0.0.1:9", "--token", "t"], {}, "missing.apk: no such file"),
    (["{folder}", "--server", "http://127.0.0.1:9", "--token", "t"], {}, ": no such file"),
])
def test_usage_errors_exit_2(tmp_path, arguments, env, message):
    values = {"apk": require_samples() / APK, "folder": tmp_path}
    result = run(SCRIPT, *(argument.format(**values) for argument in arguments), env=env)
    assert result.returncode == 2
    assert "usage: fenfa-upload.py" in result.stderr
    assert message in result.stderr


def test_progress_lines_when_stderr_is_not_a_terminal(server, script):
    result = upload(server, script, BIG_APK)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    percents = [int(line.split("% ")[0].rsplit(" ", 1)[1]) for line in lines if "% (" in line]
    assert percents == sorted(percents) and len(percents) >= 4 and percents[-1] == 100
    assert "\r" not in result.stderr
    assert lines[lines.index(f"fenfa-upload: {BIG_APK} 100% (4.0 MB of 4.0 MB)") + 1] == (
        "fenfa-upload: sent; waiting for the server's answer")


def test_a_progress_bar_on_a_terminal(server, script):
    controller, terminal = pty.openpty()
    shown = []
    reader = threading.Thread(target=read_all, args=(controller, shown))
    reader.start()
    try:
        result = upload(server, script, BIG_APK, stderr=terminal)
    finally:
        os.close(terminal)
        reader.join(timeout=30)
        os.close(controller)
    assert result.returncode == 0
    output = b"".join(shown).decode()
    assert f"\r{BIG_APK} [{'#' * 30}] 100% " in output
    assert "% (" not in output


def read_all(descriptor, chunks):
    try:
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
    except OSError:  # the terminal's other end closed
        pass


class DroppingProxy:
    """A TCP proxy to `target` that cuts its first `drops` connections after reading part of the request."""

    def __init__(self, target_port, drops=1):
        self.target_port = target_port
        self.drops = drops
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.connections <= self.drops:
                client.recv(65536)
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(source, sink), daemon=True).start()

    def close(self):
        self.listener.close()


def pipe(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        sink.close()


def test_a_dropped_connection_is_retried_with_the_whole_file(server, script):
    proxy = DroppingProxy(server.port)
    try:
        result = run(script, require_samples() / BIG_APK, "--server", proxy.base, "--token", UPLOAD_TOKEN, "--json")
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    assert proxy.connections == 2
    assert "trying again in 1 s (attempt 2 of 4)" in result.stderr
    sha256 = hashlib.sha256((require_samples() / BIG_APK).read_bytes()).hexdigest()
    assert json.loads(result.stdout)["release"]["sha256"] == sha256


def test_an_unreachable_server_is_tried_4_times_then_exit_1(uploader, monkeypatch, capsys):
    pauses = []
    monkeypatch.setattr(uploader.time, "sleep", pauses.append)
    status = uploader.main([str(require_samples() / APK), "--server", f"http://127.0.0.1:{free_port()}",
                            "--token", "t"], environ={})
    assert status == 1
    assert pauses == [1, 3, 9]
    assert capsys.readouterr().err.splitlines()[-1].startswith("fenfa-upload: cannot reach http://127.0.0.1:")


def stub_server(status, headers):
    """A started HTTP server that answers every POST with `status`, `headers` and a page that is not Fenfa's;
    its handler class counts the requests."""

    class Handler(http.server.BaseHTTPRequestHandler):
        requests = 0

        def do_POST(self):  # noqa: N802 - the handler's name is http.server's
            type(self).requests += 1
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            for name, value in {"Content-Type": "text/html", **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(b"<h1>not Fenfa</h1>")

        def log_message(self, *args):
            pass

    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    return stub


@pytest.mark.parametrize("status, headers, tries, message", [
    (503, {}, 4, "server unavailable: HTTP 503 Service Unavailable, not an answer of a Fenfa server"),
    (301, {"Location": "https://apps.example.com/admin/api/smart-upload"}, 1,
     "refused: HTTP 301 Moved Permanently to https://apps.example.com/admin/api/smart-upload: give that address "
     "as the server"),
])
def test_what_is_retried_when_the_answer_is_not_fenfas(uploader, monkeypatch, capsys, status, headers, tries,
                                                       message):
    pauses = []
    monkeypatch.setattr(uploader.time, "sleep", pauses.append)
    stub = stub_server(status, headers)
    try:
        exit_status = uploader.main([str(require_samples() / APK), "--server", f"http://127.0.0.1:{stub.server_port}",
                                     "--token", "t"], environ={})
    finally:
        stub.shutdown()
        stub.server_close()
    assert (exit_status, stub.RequestHandlerClass.requests, pauses) == (1, tries, [1, 3, 9][:tries - 1])
    assert capsys.readouterr().err.splitlines()[-1] == f"fenfa-upload: {message}"


def test_a_refusal_is_not_retried(server, uploader, monkeypatch):
    pauses = []
    monkeypatch.setattr(uploader.time, "sleep", pauses.append)
    apk = str(require_samples() / APK)
    assert uploader.main([apk, "--server", server.base, "--token", "not-a-token"], environ={}) == 1
    assert pauses == []
