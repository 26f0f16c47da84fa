"""A webhook receiver on loopback for the tests: a real HTTP server that records what Fenfa posts to it."""
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook receiver on loopback that records every request and answers `status` (with `answer`) after
    `pause` seconds, or hangs until the test ends when `hang` is set."""

    def __init__(self, status=204, answer=b"", hang=False, headers=None, pause=0):
        self.status, self.answer, self.hang, self.headers = status, answer, hang, headers or {}
        self.pause = pause
        self.requests = []
        self.released = threading.Event()
        self.url = ""

    def record(self, handler):
        length = int(handler.headers.get("Content-Length", 0))
        self.requests.append({"path": handler.path, "headers": dict(handler.headers),
                              "body": handler.rfile.read(length)})
        if self.hang:
            self.released.wait(10)
            return
        time.sleep(self.pause)
        handler.send_response(self.status)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(self.answer)))
        handler.end_headers()
        handler.wfile.write(self.answer)

    def json(self, index=0):
        return json.loads(self.requests[index]["body"])

    def bodies(self):
        """The JSON bodies received so far."""
        return [json.loads(request["body"]) for request in list(self.requests)]


@contextmanager
def receiving(**options):
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            receiver.record(self)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook?key=abc"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
