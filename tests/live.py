"""Run `python fenfa.py` as a real server on a free loopback port, as a deployment would."""
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_fenfa(data_dir, **settings):
    """Yield (base URL, process) of a fenfa server configured by FENFA_* variables."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FENFA_CONFIG": str(Path(data_dir) / "none.json"),
           "FENFA_DATA_DIR": str(data_dir)}
    env.update({f"FENFA_{key.upper()}": str(value) for key, value in settings.items()})
    process = subprocess.Popen(
        [sys.executable, str(REPO / "fenfa.py"), "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base, process)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=15)


def wait_for(base, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fenfa exited with {process.returncode}: {process.stdout.read().decode()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("fenfa did not answer /healthz in time")
