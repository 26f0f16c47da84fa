"""The process's log: lines written whole and in order from a thread of their own, none lost at exit (so a
server that SIGTERM stops exits normally, as after Ctrl-C)."""
import io
import logging
import signal
import subprocess
import sys
import threading
import urllib.request

from fenfa_lib.logs import BackgroundWriter

from helpers import ADMIN_TOKEN
from live import REPO, live_fenfa


def test_lines_from_many_threads_are_written_whole_and_in_order():
    stream = io.StringIO()
    handler = BackgroundWriter(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("fenfa.test-writer")
    logger.addHandler(handler)
    logger.propagate = False

    def log_lines(name):
        for number in range(500):
            logger.warning("t%d line %d", name, number)

    threads = [threading.Thread(target=log_lines, args=(name,), name=f"t{name}") for name in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handler.flush()
    logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8 * 500
    for name in range(8):
        assert [line for line in lines if line.startswith(f"t{name} ")] == [
            f"t{name} line {number}" for number in range(500)]


def test_every_line_logged_before_exit_is_written():
    script = ("import logging, sys; sys.path.insert(0, sys.argv[1]); from fenfa_lib.logs import configure_logging; "
              "configure_logging('text'); [logging.getLogger('fenfa').info('line %d', n) for n in range(20000)]")
    result = subprocess.run([sys.executable, "-c", script, str(REPO)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert [line.rsplit(" ", 1)[1] for line in result.stderr.splitlines()] == [str(n) for n in range(20000)]


def test_sigterm_stops_the_server_as_ctrl_c_does(data_dir):
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN) as server:
        with urllib.request.urlopen(f"{server.base}/healthz", timeout=10):
            pass
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(15) == 0
        log = server.log()
    assert "serving on" in log and "Traceback" not in log
