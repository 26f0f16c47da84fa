"""File bodies sent by the kernel: waitress's channel with os.sendfile for wsgi.file_wrapper bodies over a
regular file (whole-file downloads and ranges), so that the one I/O thread no longer reads every block into
Python to send it, and the bytes go from the page cache to the socket without a copy in the process.

waitress flushes an output buffer as `chunk = buffer.get(n)`, `sent = channel.send(chunk)`,
`buffer.skip(sent)`: here the buffer's get() names the file region next in line instead of reading it, and
the channel's send() hands that region to os.sendfile. Everything else (other bodies, files without a
descriptor) keeps waitress's own path."""
import errno
import os
import stat
from typing import NamedTuple

from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.channel import HTTPChannel
from waitress.wasyncore import _DISCONNECTED


class FileRegion(NamedTuple):
    """`count` bytes of the open file `fd` from `offset`."""

    fd: int
    offset: int
    count: int


class SendfileBuffer(ReadOnlyFileBasedBuffer):
    """A file wrapper's remaining bytes, taken over from waitress's wrapper: same file, same position
    (a range's first byte), same length (the answer's Content-Length)."""

    def __init__(self, wrapper, fd):
        super().__init__(wrapper.file, wrapper.block_size)
        self.remain = wrapper.remain
        self.fd = fd

    def get(self, numbytes=-1, skip=False):
        # All that is left: the socket takes what fits in its buffer and the channel skips what it took.
        return FileRegion(self.fd, self.file.tell(), self.remain)


def regular_file_descriptor(wrapper):
    """The descriptor of the regular file behind a file wrapper, else None (in-memory or streamed bodies)."""
    try:
        fd = wrapper.file.fileno()
    except (AttributeError, OSError, ValueError):  # no fileno(), or a closed file
        return None
    return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None


class SendfileChannel(HTTPChannel):
    """waitress's channel, sending a file wrapper over a regular file with os.sendfile."""

    def write_soon(self, data):
        if type(data) is ReadOnlyFileBasedBuffer:
            fd = regular_file_descriptor(data)
            if fd is not None:
                data = SendfileBuffer(data, fd)
        return super().write_soon(data)

    def send(self, data, do_close=True):
        """Bytes sent: of a FileRegion by os.sendfile, as waitress sends bytes (0 when the socket is full or
        the client has gone, which closes the channel when `do_close`)."""
        if not isinstance(data, FileRegion):
            return super().send(data, do_close)
        try:
            sent = os.sendfile(self.socket.fileno(), data.fd, data.offset, data.count)
        except BlockingIOError:
            return 0
        except OSError as error:
            if error.errno not in _DISCONNECTED:
                raise
            if do_close:
                self.handle_close()
            return 0
        if sent == 0:
            # The file ends before its Content-Length (cut short on disk): closing is the only honest answer,
            # where waiting would spin on a socket that stays writable.
            raise OSError(errno.EIO, "the file ended before the length of the answer")
        return sent
