"""A stand-in for App Store Connect's devices API on loopback. It checks every request's JWT with the
account's public key (signature, kid, typ, claims, lifetime), pages its device list, answers 409 for a UDID
it already has, and fails on demand."""
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from certs import pem_key

KEY_ID = "ABC123DEFG"
ISSUER_ID = "57246542-96fe-1a63-e053-0824d011072a"


class FakeAppStoreConnect:
    def __init__(self, page_size=3):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.private_pem = pem_key(self.key).decode()
        self.page_size = page_size
        self.devices = []  # Apple's device objects, oldest first
        self.tokens = []  # every bearer token that passed the checks
        self.requests = []  # (method, path with query)
        self.failures = []  # queued (status, code, detail) answers, or "timeout"
        self.leeway = 0  # seconds of clock difference accepted, for tests that move Fenfa's clock
        self.lock = threading.Lock()
        self.base_url = None

    def add_device(self, udid, name="Existing iPhone", model="iPhone 15"):
        with self.lock:
            device = {"type": "devices", "id": f"APPLE{len(self.devices) + 1:04d}",
                      "attributes": {"udid": udid, "name": name, "platform": "IOS", "model": model,
                                     "status": "ENABLED", "deviceClass": "IPHONE",
                                     "addedDate": "2026-11-30T10:00:00.000+00:00"}}
            self.devices.append(device)
            return device

    def fail_next(self, *answer):
        """Queue one failure: (status, code, detail), or ("timeout",) for an answer that never comes in time."""
        self.failures.append(answer[0] if answer == ("timeout",) else answer)

    def check_token(self, header):
        """None when the request carries a token Apple would accept, else the reason."""
        if not header.startswith("Bearer "):
            return "no bearer token"
        token = header.removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.key.public_key(), algorithms=["ES256"], audience="appstoreconnect-v1",
                                issuer=ISSUER_ID, leeway=self.leeway, options={"require": ["iss", "iat", "exp", "aud"]})
            headers = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            return f"token refused: {exc}"
        if headers.get("kid") != KEY_ID or headers.get("typ") != "JWT" or headers.get("alg") != "ES256":
            return f"token header refused: {headers}"
        if claims["exp"] - claims["iat"] > 20 * 60:
            return "token lives longer than 20 minutes"
        self.tokens.append(token)
        return None


def make_handler(fake):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, code, detail):
            self.answer(status, {"errors": [{"status": str(status), "code": code, "title": "Error", "detail": detail}]})

        def prologue(self):
            """False when the request was answered already (a bad token or a queued failure)."""
            fake.requests.append((self.command, self.path))
            reason = fake.check_token(self.headers.get("Authorization", ""))
            if reason:
                self.error(401, "NOT_AUTHORIZED", f"Authentication credentials are missing or invalid. {reason}")
                return False
            if fake.failures:
                failure = fake.failures.pop(0)
                if failure == "timeout":
                    time.sleep(2)
                    return False
                self.error(*failure)
                return False
            return True

        def do_GET(self):
            if not self.prologue():
                return
            url = urlsplit(self.path)
            if url.path != "/v1/devices":
                return self.error(404, "NOT_FOUND", f"no resource at {url.path}")
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            with fake.lock:
                devices = list(fake.devices)
            if "filter[udid]" in query:
                devices = [item for item in devices if item["attributes"]["udid"] == query["filter[udid]"]]
            limit = min(int(query.get("limit", 20)), fake.page_size)
            start = int(query.get("cursor", 0))
            page = devices[start:start + limit]
            body = {"data": page, "links": {"self": fake.base_url + self.path},
                    "meta": {"paging": {"total": len(devices), "limit": limit}}}
            if start + limit < len(devices):
                body["links"]["next"] = f"{fake.base_url}/v1/devices?cursor={start + limit}&limit={limit}"
            self.answer(200, body)

        def do_POST(self):
            if not self.prologue():
                return
            if self.path != "/v1/devices":
                return self.error(404, "NOT_FOUND", f"no resource at {self.path}")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            attributes = body["data"]["attributes"]
            assert body["data"]["type"] == "devices" and attributes["platform"] == "IOS", body
            assert attributes["name"] and len(attributes["name"]) <= 50, attributes
            if any(item["attributes"]["udid"] == attributes["udid"] for item in fake.devices):
                return self.error(409, "ENTITY_ERROR.ATTRIBUTE.INVALID",
                                  f"A device with number '{attributes['udid']}' already exists on this team.")
            self.answer(201, {"data": fake.add_device(attributes["udid"], attributes["name"], model=None)})

    return Handler


@contextmanager
def running_fake_apple(**options):
    fake = FakeAppStoreConnect(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
