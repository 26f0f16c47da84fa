"""The process's log lines: plain text, or one JSON object a line for log collectors (`log_format`)."""
import json
import logging
import threading
import time

QUEUE_LOG_SECONDS = 60


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


class OncePer(logging.Filter):
    """Lets one record through every `seconds` and says how many it held back. For waitress's "Task queue
    depth is N", which it logs for every request that waits for a thread: under load, every request."""

    def __init__(self, seconds, clock=time.monotonic):
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self._next_at = 0.0
        self._held_back = 0
        self._lock = threading.Lock()

    def filter(self, record):
        with self._lock:
            now = self.clock()
            if now < self._next_at:
                self._held_back += 1
                return False
            held_back, self._held_back, self._next_at = self._held_back, 0, now + self.seconds
        if held_back:
            record.msg = f"{record.msg} ({held_back} more such lines in the last {self.seconds} s left out)"
        return True


def configure_logging(log_format):
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("waitress.queue").addFilter(OncePer(QUEUE_LOG_SECONDS))
