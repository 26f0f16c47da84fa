"""The repo's deploy/nginx.conf in front of a live Fenfa: its ports, paths and certificate filled in, run by
Debian's nginx with a self-signed certificate for localhost."""
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager

from certs import make_certificate, pem, pem_key
from corpus import skip_or_fail
from live import REPO, free_port

NGINX = "/usr/sbin/nginx"


def self_signed_certificate(folder):
    """(certificate path, key path) of a fresh certificate for localhost."""
    certificate, key = make_certificate("localhost", ca=True, dns_names=["localhost"])
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(pem(certificate))
    key_path.write_bytes(pem_key(key))
    return cert_path, key_path


def filled_site(https_port, http_port, fenfa_port, data_dir, cert_path, key_path):
    """deploy/nginx.conf with this machine's ports, paths and certificate in place of the examples."""
    site = (REPO / "deploy" / "nginx.conf").read_text()
    replacements = {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{fenfa_port};",
        "/etc/letsencrypt/live/apps.example.com/fullchain.pem": str(cert_path),
        "/etc/letsencrypt/live/apps.example.com/privkey.pem": str(key_path),
        "apps.example.com": "localhost",
        "/srv/fenfa/data/uploads/": f"{data_dir}/uploads/",
    }
    for example, value in replacements.items():
        assert example in site, f"deploy/nginx.conf no longer has {example!r}"
        site = site.replace(example, value)
    return "\n".join(line for line in site.splitlines() if "listen [::]" not in line)  # loopback may lack IPv6


@contextmanager
def running_nginx(folder, fenfa_port, data_dir):
    """Yield the https base URL and the certificate of nginx proxying to Fenfa on `fenfa_port`."""
    if not os.path.exists(NGINX):
        skip_or_fail(f"{NGINX} is missing: apt-get install nginx-light")
    folder.mkdir()
    cert_path, key_path = self_signed_certificate(folder)
    https_port, http_port = free_port(), free_port()
    (folder / "site.conf").write_text(filled_site(https_port, http_port, fenfa_port, data_dir, cert_path, key_path))
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    # As root the workers would drop to nobody, who cannot enter the test's folders.
    user = "user root;" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {folder}/access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {folder}/site.conf;
}}
""")
    check = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                            str(folder / "error.log")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e",
                                str(folder / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(https_port, process, folder)
        yield f"https://localhost:{https_port}", cert_path
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_port(port, process, folder, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(folder / 'error.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not listen in time")
