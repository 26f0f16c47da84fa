"""The process's log lines: plain text, or one JSON object a line for log collectors (`log_format`)."""
import json
import logging
import queue
import sys
import threading
import time


class JSONFormatter(logging.Formatter):
    """A line of JSON with the time, level, logger and message, plus the `fields` a record carries."""

    def format(self, record):
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class OncePer:
    """A logger whose warnings go through once every `seconds`, saying how many were held back; the others are
    dropped before a record is made. For waitress's "Task queue depth is N", which it logs for every request that
    waits for a thread: under load, every request."""

    def __init__(self, logger, seconds, clock=time.monotonic):
        self.logger = logger
        self.seconds = seconds
        self.clock = clock
        self._next_at = 0.0
        self._held_back = 0
        self._lock = threading.Lock()

    def warning(self, message, *args):
        with self._lock:
            now = self.clock()
            if now < self._next_at:
                self._held_back += 1
                return
            held_back, self._held_back, self._next_at = self._held_back, 0, now + self.seconds
        if held_back:
            message = f"{message} ({held_back} more such lines in the last {self.seconds} s left out)"
        self.logger.warning(message, *args)


class BackgroundWriter(logging.Handler):
    """Formats a record on the thread that logs it, and writes lines from a thread of its own, all that are waiting
    in one write. A request's access-log line then costs its thread no system call and no wait for the stream:
    with eight busy threads, writing each line in place cost a sixth of a small request's throughput. `flush()`
    (run at exit by logging.shutdown) returns once every line logged before it is written."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream or sys.stderr
        self._lines = queue.SimpleQueue()
        self._written = threading.Condition()
        self._queued = self._done = 0
        threading.Thread(target=self._write_forever, daemon=True, name="fenfa-log").start()

    def emit(self, record):
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        self._queued += 1  # under the handler's lock: logging.Handler.handle holds it around emit()
        self._lines.put(line)

    def _write_forever(self):
        while True:
            lines = [self._lines.get()]
            while not self._lines.empty():
                lines.append(self._lines.get_nowait())
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or full stream: the lines are lost, the server goes on
            with self._written:
                self._done += len(lines)
                self._written.notify_all()

    def flush(self, timeout=5):
        with self.lock:
            target = self._queued
        with self._written:
            self._written.wait_for(lambda: self._done >= target, timeout)


def configure_logging(log_format):
    # What no line shows is not gathered for each record (the logging HOWTO's "Optimization"): the caller's file
    # and line (a walk up the stack), the thread, the process.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = BackgroundWriter()
    if log_format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
