"""A small App Store Connect API client for the devices of an Apple Developer account: an ES256 JWT made
from the account's API key and reused until shortly before it expires, a timeout on every call, pages
followed through `links.next`. It knows nothing of Flask or the database."""
import hashlib
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 15
TOKEN_SECONDS = 20 * 60  # the longest lifetime Apple accepts
RENEW_SECONDS = 60  # a token this close to expiring is replaced
PAGE_SIZE = 200
MAX_PAGES = 100  # 20,000 devices: far past the 100 per product family Apple allows a year
MAX_ANSWER_BYTES = 8 * 1024 * 1024
CREDENTIAL_SETTINGS = ("apple_key_id", "apple_issuer_id", "apple_private_key")
_token_lock = threading.Lock()
_tokens = {}  # credentials fingerprint -> (token, expires at)


class AppleError(Exception):
    """App Store Connect refused a call (`status` is its HTTP status) or could not be reached (`status` None);
    the message is Apple's own detail."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class AppleKeyError(ValueError):
    """A private key that cannot sign App Store Connect tokens."""


@dataclass(frozen=True)
class Credentials:
    key_id: str
    issuer_id: str
    private_key: str  # the AuthKey_XXXX.p8 file: an EC P-256 key in PEM


def missing_settings(settings):
    """The names of the credential settings that are empty."""
    return [name for name in CREDENTIAL_SETTINGS if not getattr(settings, name)]


def check_private_key(pem):
    """AppleKeyError unless `pem` is an EC P-256 private key, the kind App Store Connect keys are."""
    from cryptography.hazmat.primitives.asymmetric import ec  # 9 MiB at start-up: only Apple settings pay
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise AppleKeyError("is not a PEM private key (the AuthKey_XXXX.p8 file)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise AppleKeyError("must be an EC P-256 key (App Store Connect keys sign with ES256)")


def now():
    return time.time()


def bearer_token(credentials):
    """A signed token for `credentials`, the same one until RENEW_SECONDS before it expires."""
    import jwt  # PyJWT loads cryptography (9 MiB at start-up): only servers that call Apple pay

    fingerprint = hashlib.sha256(repr(credentials).encode()).hexdigest()
    with _token_lock:
        token, expires_at = _tokens.get(fingerprint, (None, 0))
        if now() < expires_at - RENEW_SECONDS:
            return token
        issued_at = int(now())
        claims = {"iss": credentials.issuer_id, "iat": issued_at, "exp": issued_at + TOKEN_SECONDS,
                  "aud": "appstoreconnect-v1"}
        try:
            token = jwt.encode(claims, credentials.private_key, algorithm="ES256",
                               headers={"kid": credentials.key_id, "typ": "JWT"})
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise AppleError(f"the Apple private key cannot sign a token: {exc}") from None
        _tokens[fingerprint] = (token, issued_at + TOKEN_SECONDS)
        return token


class AppStoreConnect:
    """The calls Fenfa makes, against `base_url` (App Store Connect, or a stand-in for it)."""

    def __init__(self, base_url, credentials):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials

    def call(self, method, path_or_url, params=None, body=None):
        """Apple's JSON answer; AppleError with Apple's detail for a refusal, or when Apple cannot be reached."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.base_url + path_or_url
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Authorization": f"Bearer {bearer_token(self.credentials)}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read(MAX_ANSWER_BYTES) or b"{}")
        except urllib.error.HTTPError as exc:
            raise refusal(exc) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise AppleError(f"App Store Connect cannot be reached: {reason}") from None
        except ValueError:
            raise AppleError("App Store Connect answered with something that is not JSON") from None
        if not isinstance(answer, dict):
            raise AppleError("App Store Connect answered with JSON that is not an object")
        return answer

    def check(self):
        """AppleError unless the credentials are accepted (one cheap real call)."""
        self.call("GET", "/v1/devices", {"limit": 1})

    def devices(self):
        """Every device of the account, page after page."""
        answer = self.call("GET", "/v1/devices", {"limit": PAGE_SIZE})
        devices = list(page_items(answer))
        for _page in range(MAX_PAGES):
            links = answer.get("links")
            next_url = links.get("next") if isinstance(links, dict) else None
            if not next_url:
                return [device_summary(item) for item in devices]
            answer = self.call("GET", self.same_origin(next_url))
            devices += page_items(answer)
        raise AppleError(f"App Store Connect's device list goes on past {MAX_PAGES} pages")

    def same_origin(self, url):
        """A `links.next` URL, refused unless it points back at the API, so the token goes nowhere else."""
        if not isinstance(url, str) or not url.startswith(self.base_url + "/"):
            raise AppleError("App Store Connect's next page points away from the API")
        return url

    def find_device(self, udid):
        """The account's device with this UDID, or None."""
        answer = self.call("GET", "/v1/devices", {"filter[udid]": udid, "limit": 1})
        matches = [device_summary(item) for item in page_items(answer)]
        return next((device for device in matches if device["udid"].lower() == udid.lower()), None)

    def register_device(self, name, udid):
        """Register an iOS device; a device the account already has counts as registered."""
        body = {"data": {"type": "devices", "attributes": {"name": name, "udid": udid, "platform": "IOS"}}}
        try:
            return device_summary(self.call("POST", "/v1/devices", body=body).get("data"))
        except AppleError as exc:
            if exc.status != 409:
                raise
            conflict = exc
        # 409: a duplicate, or another conflict; only a device found by its UDID makes it a success.
        try:
            existing = self.find_device(udid)
        except AppleError:
            existing = None
        if existing is None:
            raise conflict
        return existing


def page_items(answer):
    items = answer.get("data", [])
    if not isinstance(items, list):
        raise AppleError("App Store Connect answered with a page that lists nothing")
    return items


def refusal(http_error):
    """AppleError with the `detail` (else `title`, else the status) of Apple's error answer."""
    try:
        errors = json.loads(http_error.read(MAX_ANSWER_BYTES)).get("errors") or [{}]
    except (ValueError, AttributeError, OSError, http.client.HTTPException):
        errors = [{}]
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    detail = first.get("detail") or first.get("title") or f"HTTP {http_error.code}"
    code = first.get("code")
    return AppleError(f"{detail} ({code})" if code else detail, status=http_error.code)


def device_summary(item):
    """The fields Fenfa shows of one of Apple's device objects; AppleError for anything else."""
    if not isinstance(item, dict) or not isinstance(item.get("attributes") or {}, dict):
        raise AppleError("App Store Connect answered with a device that is not one")
    attributes = item.get("attributes") or {}
    return {
        "apple_device_id": item.get("id", ""),
        "udid": attributes.get("udid", ""),
        "name": attributes.get("name", ""),
        "platform": attributes.get("platform", ""),
        "model": attributes.get("model") or "",
        "status": attributes.get("status", ""),
        "added_at": attributes.get("addedDate"),
    }
