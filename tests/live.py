"""Run `python fenfa.py` as a real server on a free loopback port, as a deployment would, and call its API."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# Without proxies from the environment; FOLLOWING follows redirects, as urlopen does.
FOLLOWING = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NOT_FOLLOWING = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects)


@dataclass
class Answer:
    status: int
    headers: object
    body: bytes

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode("utf-8", "replace")

    def cookie(self, name):
        """The value this answer's Set-Cookie headers give the cookie `name`, or None."""
        for header in self.headers.get_all("Set-Cookie") or []:
            parsed = SimpleCookie()
            parsed.load(header)
            if name in parsed:
                return parsed[name].value
        return None


def call(base, method, path, body=None, token=None, headers=None, follow_redirects=True, timeout=30):
    """The Answer to one request to the server at `base`: `body` a dict sent as JSON, or bytes; `token` in
    X-Auth-Token. An error status is an Answer too."""
    headers = dict(headers or {})
    if token:
        headers["X-Auth-Token"] = token
    if isinstance(body, dict):
        body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers)
    opener = FOLLOWING if follow_redirects else NOT_FOLLOWING
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers, error.read())


@dataclass
class LiveServer:
    base: str
    process: subprocess.Popen
    log_path: Path
    port: int

    def log(self):
        """What the server printed so far (its log lines)."""
        return self.log_path.read_text("utf-8", errors="replace")


# Runs the script in argv[1] as `python script ...` would, with the modules in argv[0] not installed.
WITHOUT_MODULES = ("import os, runpy, sys; sys.modules.update(dict.fromkeys(sys.argv.pop(1).split(','))); "
                   "sys.argv.pop(0); sys.path[0] = os.path.dirname(sys.argv[0]); "
                   "runpy.run_path(sys.argv[0], run_name='__main__')")


def fenfa_command(data_dir, *arguments, without=(), **settings):
    """(argv, environment) that run `python fenfa.py ARGUMENTS` on `data_dir` with FENFA_* `settings`, as if the
    modules `without` names were not installed; the configuration file is an empty one beside the data dir."""
    config = Path(data_dir).parent / "fenfa-config.json"
    if not config.exists():
        config.write_text("{}")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FENFA_CONFIG": str(config),
           "FENFA_DATA_DIR": str(data_dir)}
    env.update({f"FENFA_{key.upper()}": str(value) for key, value in settings.items()})
    hiding = ["-c", WITHOUT_MODULES, ",".join(without)] if without else []
    return [sys.executable, *hiding, str(REPO / "fenfa.py"), *arguments], env


@contextmanager
def live_fenfa(data_dir, environment=None, without=(), **settings):
    """Yield a LiveServer: fenfa configured by FENFA_* variables (plus `environment`, other variables), its
    output in a log file (a pipe nobody reads would fill up and stall the server)."""
    port = free_port()
    argv, env = fenfa_command(data_dir, "--host", "127.0.0.1", "--port", str(port), without=without, **settings)
    log_path = Path(data_dir).parent / f"fenfa-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(argv, env={**env, **(environment or {})}, cwd=REPO, stdout=log_file,
                                   stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path, port)
    try:
        wait_for(server)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def running_fenfa(data_dir, **settings):
    """Yield (base URL, process) of a fenfa server configured by FENFA_* variables."""
    with live_fenfa(data_dir, **settings) as server:
        yield server.base, server.process


def wait_for(server, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"fenfa exited with {server.process.returncode}: {server.log()}")
        try:
            with urllib.request.urlopen(f"{server.base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("fenfa did not answer /healthz in time")
