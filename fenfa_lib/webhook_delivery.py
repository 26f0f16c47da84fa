"""The delivery worker: a thread in the server that sends the outbox's due deliveries (webhooks.enqueue wrote them),
retries failures after 1, 5 and 30 minutes, then gives up. No Flask: it runs beside the requests, never in one.

Each delivery is sent once with several servers on one database: a worker claims its due deliveries in one
transaction (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so workers elsewhere take other rows instead of waiting), counting
the attempt and moving `next_attempt_at` a lease into the future; only the worker that claimed a delivery sends and
records it. A worker that dies mid-send leaves the delivery due again once the lease is over (at-least-once; the
delivery ID lets a receiver drop a repeat).

A small pool of sender threads shares the due deliveries, so a receiver that hangs holds one sender for at most the
send timeout (applied to connecting and to each read) while the others go on."""
import http.client
import ipaddress
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import NamedTuple
from urllib.parse import urlsplit

from fenfa_lib import __version__
from fenfa_lib.dialect import claimable, claiming_transaction
from fenfa_lib.models import Webhook, WebhookDelivery, db, utcnow
from fenfa_lib.webhook_messages import outgoing_request, refusal_in_answer

log = logging.getLogger("fenfa")
SEND_TIMEOUT = 10  # seconds, for connecting and for each read
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
CLAIM_LEASE = timedelta(minutes=5)  # far longer than one send may take
POLL_SECONDS = 2
SENDERS = 4
BATCH = 50
MAX_ANSWER_BYTES = 1024  # of a receiver's answer, kept for the delivery's error
MAX_ERROR_LENGTH = 500
USER_AGENT = f"Fenfa-Webhooks/{__version__}"
PING = "ping"  # the test message an admin sends from the API


class AddressRefused(ValueError):
    """The webhook's host is, or resolves to, an address webhooks may not reach (or does not resolve)."""


class Outcome(NamedTuple):
    status_code: int | None
    ok: bool
    error: str


def is_private(address):
    """Whether an IP address is not a public one: loopback, private, link-local, shared (carrier NAT), reserved
    or unspecified, an IPv4 address written as IPv6 included."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def resolved_addresses(host, port):
    """Every address `host` resolves to (itself for an IP address); OSError when it does not resolve."""
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except UnicodeError as exc:
        raise OSError(f"{host} is not a valid host name") from exc


def checked_address(host, port, allow_private):
    """The address to connect to for `host`: its first resolved address, once every address it resolves to is
    a public one (or `allow_private`). Raises AddressRefused."""
    try:
        addresses = resolved_addresses(host, port)
    except OSError as exc:
        raise AddressRefused(f"{host} does not resolve: {exc}") from None
    private = [address for address in addresses if is_private(address)]
    if private and not allow_private:
        raise AddressRefused(f"{host} resolves to the private address {private[0]} "
                             "(webhook_allow_private allows it)")
    return addresses[0]


class PinnedConnection:
    """An http.client connection to the address that was checked rather than a fresh DNS answer, which could
    differ (DNS rebinding); the Host header and TLS (SNI, certificate) still use the URL's host name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._create_connection = lambda target, *args: socket.create_connection((address, target[1]), *args)


class PinnedHTTPConnection(PinnedConnection, http.client.HTTPConnection):
    pass


class PinnedHTTPSConnection(PinnedConnection, http.client.HTTPSConnection):
    pass


def post(url, body, headers, allow_private, timeout):
    """POST `body` to `url` once; redirects are not followed (their target was never checked). An Outcome, and the
    start of the answer's body."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = checked_address(parts.hostname, port, allow_private)
    except AddressRefused as exc:
        return Outcome(None, False, str(exc)), b""
    connection_class = PinnedHTTPSConnection if parts.scheme == "https" else PinnedHTTPConnection
    connection = connection_class(parts.hostname, port, address, timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        answer = response.read(MAX_ANSWER_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, False, f"{type(exc).__name__}: {exc}".rstrip(": ")), b""
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Outcome(response.status, True, ""), answer
    if 300 <= response.status < 400:
        error = f"HTTP {response.status} to {response.getheader('Location', '')!r}: redirects are not followed"
    else:
        error = f"HTTP {response.status}: {answer.decode('utf-8', 'replace')}"
    return Outcome(response.status, False, error), answer


def send(webhook, delivery, allow_private, timeout=SEND_TIMEOUT):
    """Send one delivery in its webhook's message format. A 2xx is ok unless the service's answer says it
    refused the message (Feishu and DingTalk answer a bad signature with a 200)."""
    request = outgoing_request(webhook, delivery.payload)
    outcome, answer = post(request.url, request.body, request.headers, allow_private, timeout)
    refusal = refusal_in_answer(webhook.kind, answer) if outcome.ok else ""
    return outcome._replace(ok=False, error=refusal) if refusal else outcome


def claim_due(now, limit=BATCH):
    """Claim up to `limit` deliveries due at `now` for this worker (see the module's docstring), oldest first."""
    with claiming_transaction():
        due = list(claimable(WebhookDelivery.select()
                             .where((WebhookDelivery.state == "pending") & (WebhookDelivery.next_attempt_at <= now))
                             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                             .limit(limit)))
        if due:
            (WebhookDelivery.update(attempt=WebhookDelivery.attempt + 1, next_attempt_at=now + CLAIM_LEASE)
             .where(WebhookDelivery.id.in_([delivery.id for delivery in due])).execute())
    for delivery in due:
        delivery.attempt += 1
    return due


def record(delivery, outcome, now, may_retry=True):
    """Store the attempt's outcome: done after a 2xx; else pending again after the next retry delay, or failed
    after the last one (or at once, when not `may_retry`)."""
    if outcome.status_code is not None and 200 <= outcome.status_code < 300:
        state, next_attempt_at = ("done" if outcome.ok else "failed"), None
    elif may_retry and delivery.attempt <= len(RETRY_DELAYS):
        state, next_attempt_at = "pending", now + RETRY_DELAYS[delivery.attempt - 1]
    else:
        state, next_attempt_at = "failed", None
    changes = {"state": state, "next_attempt_at": next_attempt_at, "status_code": outcome.status_code,
               "ok": outcome.ok, "error": outcome.error[:MAX_ERROR_LENGTH]}
    (WebhookDelivery.update(**changes)
     .where((WebhookDelivery.id == delivery.id) & (WebhookDelivery.attempt == delivery.attempt)).execute())
    for name, value in changes.items():
        setattr(delivery, name, value)
    log.log(logging.INFO if outcome.ok else logging.WARNING, "webhook %s: %s %s, attempt %d: %s",
            delivery.webhook_id, delivery.event, delivery.id, delivery.attempt, outcome.error or "delivered",
            extra={"fields": {"event": "webhook.delivery", "webhook_id": delivery.webhook_id,
                              "delivery_id": delivery.id, "attempt": delivery.attempt, "state": state,
                              "status_code": outcome.status_code}})
    return delivery


def deliver(delivery, allow_private, timeout=SEND_TIMEOUT, now=None):
    """Send and record one delivery this worker claimed; None when its webhook was deleted meanwhile. A ping is
    tried once; a disabled webhook's deliveries fail without being sent."""
    now = now or utcnow()
    webhook = Webhook.get_or_none(Webhook.id == delivery.webhook_id)
    if webhook is None:  # deleted meanwhile, and its deliveries with it
        return None
    if not webhook.enabled and delivery.event != PING:
        return record(delivery, Outcome(None, False, "the webhook is disabled"), now, may_retry=False)
    return record(delivery, send(webhook, delivery, allow_private, timeout), now, may_retry=delivery.event != PING)


class DeliveryWorker:
    """Sends due deliveries: `deliver_due(now)` once (tests move `now`), or `start()` a thread that does so every
    POLL_SECONDS."""

    def __init__(self, allow_private=False, timeout=SEND_TIMEOUT, senders=SENDERS):
        self.allow_private = allow_private
        self.timeout = timeout
        self.senders = senders

    def deliver_due(self, now=None):
        """Send the deliveries due at `now`, a few at a time; the deliveries this worker sent, with their outcome."""
        now = now or utcnow()
        with db.connection_context():
            due = claim_due(now)
        if not due:
            return []
        with ThreadPoolExecutor(min(self.senders, len(due)), thread_name_prefix="fenfa-webhook") as pool:
            delivered = list(pool.map(lambda delivery: self.deliver_one(delivery, now), due))
        return [delivery for delivery in delivered if delivery is not None]

    def deliver_one(self, delivery, now):
        with db.connection_context():
            return deliver(delivery, self.allow_private, self.timeout, now)

    def run(self, stop, interval=POLL_SECONDS):
        """Deliver what is due every `interval` seconds until `stop` (a threading.Event) is set."""
        while not stop.wait(interval):
            try:
                self.deliver_due()
            except Exception:  # a failed round must not end the thread; the next one tries again
                log.exception("webhook delivery round failed")

    def start(self):
        """Run in a daemon thread; returns the Event that stops it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), daemon=True, name="fenfa-webhooks").start()
        return stop
