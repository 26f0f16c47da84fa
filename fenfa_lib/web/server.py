"""Running the app under waitress: bodies admitted before they are spooled (on the data disk), waitress's
own refusals in the JSON envelope, one access-log line per request, and limits that slow clients cannot
exhaust (files are sent from waitress's I/O loop, not from a worker thread)."""
import hmac
import json
import logging
import math
import resource
import signal
import socket
import tempfile
import threading
import time
from functools import partial
from http.cookies import CookieError, SimpleCookie

from itsdangerous import BadSignature
from waitress import create_server, wasyncore
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, WSGITask
from werkzeug.exceptions import HTTPException

from fenfa_lib.config import MAX_SMALL_BODY, upload_limit_bytes
from fenfa_lib.logs import OncePer
from fenfa_lib.models import db
from fenfa_lib.release_files import sweep_leftovers
from fenfa_lib.retention import start_event_pruning
from fenfa_lib.web.auth import LOCKOUT, scope_of
from fenfa_lib.web.envelope import error_code, machine_fault, upload_limit_message
from fenfa_lib.web.sendfile import SendfileChannel
from fenfa_lib.web.upload_body import Refusal, upload_receiver
from fenfa_lib.webhook_delivery import DeliveryWorker

log = logging.getLogger("fenfa")
access_log = logging.getLogger("fenfa.access")
SWEEP_SECONDS = 600
QUEUE_LOG_SECONDS = 60  # at most one "Task queue depth" line a minute
LINGER_SECONDS = 2  # how long a closing connection's late input is read and dropped (nginx's lingering_time is 30)
LINGER_READ_BYTES = 256 * 1024
SPARE_DESCRIPTORS = 64  # files, the database and the listening socket beside one descriptor per connection


class Admission:
    """Which request bodies are worth reading: an upload route's only with a valid X-Auth-Token header,
    configured or named (the scope and product are checked later, by the route), any other route's only up to
    MAX_SMALL_BODY bytes."""

    def __init__(self, app):
        self.config = app.config["FENFA"]
        self.lockout = app.extensions[LOCKOUT]
        self.sessions = app.session_interface.get_signing_serializer(app)
        self.session_cookie = app.config["SESSION_COOKIE_NAME"]
        self.routes = app.url_map.bind("localhost")

    def is_upload(self, path, method):
        """Whether `method` `path` goes to an upload route, whose body may be as large as an upload."""
        try:
            endpoint, _ = self.routes.match(path, method)
        except HTTPException:
            return False
        return endpoint.startswith("upload.")

    def refusal(self, path, method, headers, content_length, client):
        """A Refusal for a request whose body must not be read, else None. A signed-in browser's upload (a
        session cookie and a CSRF header) is admitted here and checked in full by the route."""
        if self.is_upload(path, method):
            token = headers.get("X_AUTH_TOKEN", "")
            if not token:
                if self.signed_in_browser(headers):
                    return self.oversized(method, content_length)
                return Refusal(401, "X-Auth-Token header is required")
            client = self.client_address(headers, client)
            try:
                with db.connection_context():  # waitress's I/O thread holds no connection between requests
                    refusal = self.token_refusal(token, client)
            except Exception as exc:
                fault = machine_fault(exc)
                if fault is None:
                    raise
                refusal = Refusal(*fault)
            return refusal or self.oversized(method, content_length)
        if content_length > MAX_SMALL_BODY:
            return Refusal(413, f"request body must be at most {MAX_SMALL_BODY} bytes")
        return None

    def token_refusal(self, token, client):
        """A Refusal for an upload whose token is unknown or comes from a locked-out address, else None."""
        wait = self.lockout.wait(client)
        if wait:
            return Refusal(429, "too many failed sign-ins from this address; try again later", math.ceil(wait))
        if scope_of(token, self.config) is None:
            self.lockout.fail(client)
            return Refusal(401, "invalid token")
        return None

    def oversized(self, method, content_length):
        """413 for a raw upload body (a PUT, all file) past the upload limit; a form's limit is waitress's."""
        if method == "PUT" and content_length > upload_limit_bytes(self.config):
            return Refusal(413, upload_limit_message(self.config["max_upload_mb"]))
        return None

    def signed_in_browser(self, headers):
        """Whether the request carries a genuine signed session cookie with a session in it and the CSRF header
        that session's pages send; the route then checks that the session still exists."""
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("COOKIE", ""))
            session = self.sessions.loads(cookies[self.session_cookie].value) if self.sessions else {}
        except (CookieError, KeyError, BadSignature, ValueError):
            return False
        sent, expected = headers.get("X_CSRF_TOKEN", ""), session.get("csrf", "")
        return bool(session.get("sid") and sent and expected) and hmac.compare_digest(sent.encode(), expected.encode())

    def client_address(self, headers, socket_address):
        """The client as the app's ProxyFix will see it: the X-Forwarded-For entry `trusted_proxies` hops
        from the end, else the socket's address."""
        hops = self.config["trusted_proxies"]
        forwarded = [value.strip() for value in headers.get("X_FORWARDED_FOR", "").split(",")]
        return forwarded[-hops] if hops and len(forwarded) >= hops and forwarded[-hops] else socket_address


class AdmittingParser(HTTPRequestParser):
    """waitress's request parser, which asks `admission` about a request with a body as soon as its headers
    are in; a refused request is complete at once, so the body is never read or spooled."""

    body_limit = None

    def __init__(self, adj, admission, client):
        super().__init__(adj)
        self.admission = admission
        self.client = client  # the socket's address: behind a proxy, the proxy's

    def parse_header(self, header_plus):
        super().parse_header(header_plus)
        if self.body_rcv is None:
            return
        refusal = self.admission.refusal(self.path, self.command, self.headers, self.content_length, self.client)
        if refusal:
            self.error = refusal
            self.completed = True
            self.expect_continue = False  # no "100 Continue": the client must not start sending
        elif not self.admission.is_upload(self.path, self.command):
            if self.chunked:
                self.body_limit = MAX_SMALL_BODY
        elif not self.chunked:  # an upload of known length is written to disk once, as it arrives
            self.body_rcv = upload_receiver(self.admission.config, self.command, self.headers,
                                            self.content_length) or self.body_rcv

    def received(self, data):
        consumed = super().received(data)
        if self.body_limit is not None and self.body_bytes_received > self.body_limit and not self.error:
            self.error = Refusal(413, f"request body must be at most {self.body_limit} bytes")
            self.completed = True
        return consumed


def log_request(task, client):
    """One access-log line: client address, method, path without its query, status, bytes and milliseconds."""
    request = task.request
    sent = task.content_length if task.content_length is not None else task.content_bytes_written
    fields = {
        "client": client,
        "method": request.command or "-",
        "path": request.path or "-",
        "status": int(task.status.split(" ", 1)[0]),
        "bytes": sent,
        "ms": round((time.time() - task.start_time) * 1000),
    }
    access_log.info("%(client)s %(method)s %(path)s %(status)s %(bytes)s %(ms)sms", fields,
                    extra={"fields": fields})


class LoggedTask(WSGITask):
    def finish(self):
        super().finish()
        # The app's ProxyFix rewrote REMOTE_ADDR in this environ to the client a trusted proxy forwarded.
        log_request(self, (self.environ or {}).get("REMOTE_ADDR") or self.channel.addr[0])


class EnvelopeErrorTask(ErrorTask):
    """waitress's own refusals (a body over the limit, a malformed request, a refused admission) in Fenfa's
    JSON envelope."""

    def execute(self):
        error = self.request.error
        if isinstance(error, Refusal):
            message = error.body
        elif error.code == 413:
            message = upload_limit_message(self.channel.server.upload_limit_mb)
        else:
            message = error.reason
        body = json.dumps({"ok": False, "error": {"code": error_code(error.code), "message": message}}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        if getattr(error, "retry_after", None):
            self.response_headers.append(("Retry-After", str(error.retry_after)))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)

    def finish(self):
        super().finish()
        log_request(self, self.channel.addr[0] if self.channel.addr else "-")


class Lingerer(wasyncore.dispatcher):
    """The last of a connection the server closed: its write side shut (the client sees the end of the answer),
    whatever the client still sends read and dropped, closed once the client closes or LINGER_SECONDS pass. Closing
    with unread input at once would reset the connection, and the reset can reach the client before it has read
    the answer that explains why its upload was refused. A dispatcher of its own, so that the channels' readable()
    and writable(), which waitress's loop calls for every channel on every turn, stay waitress's."""

    def __init__(self, sock, map):
        super().__init__(sock, map)
        self.until = time.monotonic() + LINGER_SECONDS

    def readable(self):
        if time.monotonic() < self.until:
            return True
        self.close()
        return False

    def writable(self):
        return False

    def handle_read(self):
        try:
            data = self.socket.recv(LINGER_READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()

    def handle_close(self):
        self.close()


class EnvelopeChannel(SendfileChannel):
    error_task_class = EnvelopeErrorTask
    task_class = LoggedTask

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        self.parser_class = partial(AdmittingParser, admission=server.admission, client=addr[0] if addr else "")

    def handle_close(self):
        """Close as waitress does, but leave the connection to a Lingerer while the client may still send."""
        if self.connected and not self.total_outbufs_len:
            self.leave_to_lingerer()
        super().handle_close()

    def leave_to_lingerer(self):
        try:
            lingering = self.socket.dup()
        except OSError:  # out of descriptors: the close is waitress's alone
            return
        try:
            lingering.shutdown(socket.SHUT_WR)
            Lingerer(lingering, self._map)
        except OSError:
            lingering.close()


def allow_descriptors(connection_limit):
    """Raise the soft limit on open files so that `connection_limit` connections fit (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connection_limit + SPARE_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))


def build_server(app):
    """The waitress server for `app`. waitress reads each admitted body into a temporary file before the
    app runs: those files go to <data_dir>/tmp, beside the uploads, and bodies may be as large as uploads.
    Raises OSError when the address cannot be bound."""
    settings = app.config["FENFA"]
    tempfile.tempdir = str(settings["data_dir"] / "tmp")
    allow_descriptors(settings["connection_limit"])
    server = create_server(
        app,
        host=settings["host"],
        port=settings["port"],
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        threads=settings["threads"],
        connection_limit=settings["connection_limit"],
        channel_timeout=settings["channel_timeout"],
        asyncore_use_poll=True,  # select() cannot watch descriptors past 1024
        recv_bytes=256 * 1024,  # an upload arrives in 256 KiB reads, not 8 KiB ones: 1.5x faster, same memory
        clear_untrusted_proxy_headers=False,  # the app's ProxyFix applies `trusted_proxies` to X-Forwarded-*
        ident="fenfa",
    )
    server.task_dispatcher.queue_logger = OncePer(logging.getLogger("waitress.queue"), QUEUE_LOG_SECONDS)
    server.channel_class = EnvelopeChannel
    server.admission = Admission(app)
    server.upload_limit_mb = settings["max_upload_mb"]
    server.data_dir = settings["data_dir"]
    server.webhook_worker = DeliveryWorker(allow_private=settings["webhook_allow_private"])
    return server


def sweep_periodically(data_dir, interval=SWEEP_SECONDS):
    """Every `interval` seconds, remove leftovers old enough to belong to no upload still running anywhere."""
    while True:
        time.sleep(interval)
        try:
            sweep_leftovers(data_dir)
        except Exception:  # a failed sweep must not end the thread; the next one tries again
            log.exception("periodic sweep of %s failed", data_dir)


def serve(server):
    """Serve until interrupted, sweeping crash leftovers now and then, sending webhook deliveries and pruning
    old events (at once, then daily)."""
    threading.Thread(target=sweep_periodically, args=(server.data_dir,), daemon=True, name="fenfa-sweep").start()
    server.webhook_worker.start()
    start_event_pruning()
    signal.signal(signal.SIGTERM, stop_serving)
    log.info("serving on http://%s:%s", server.effective_host, server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


def stop_serving(signum, frame):
    """SIGTERM (systemd's stop) ends serving as Ctrl-C does, so the process exits normally: the log lines still
    queued get written."""
    raise KeyboardInterrupt
