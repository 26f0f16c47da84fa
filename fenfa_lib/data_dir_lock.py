"""Who else serves this data dir. Every server holds a shared lock on <data_dir>/serving.lock while it runs,
so one that can lock it exclusively at start-up knows no other server is writing there: whatever a crash
left behind (spools, release folders without a row) belongs to nobody and can go at once. An upload's spool
is held the same way while its request runs, however long storing it takes."""
import contextlib
import fcntl
import os

LOCK_FILE = "serving.lock"


def claim(data_dir):
    """(open lock file, whether this process is the only one serving `data_dir`). The file must stay open
    for as long as the process serves: its lock is what tells later servers that this one runs."""
    handle = open(data_dir / LOCK_FILE, "a+b")  # noqa: SIM115 - held open for the life of the app
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        alone = True
    except BlockingIOError:
        alone = False
    fcntl.flock(handle, fcntl.LOCK_SH)  # from now on, share the data dir with servers started later
    return handle, alone


def hold(path):
    """A descriptor that holds an exclusive lock on `path` until it is closed."""
    descriptor = os.open(path, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def is_held(path):
    """Whether some request (of this process or another) still holds `path`."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    return False
