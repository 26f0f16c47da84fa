"""An upload's body received as it arrives, in waitress's I/O thread, so that it is written to disk once: the
file's bytes go straight into the HashingSpool the release is later renamed from (a raw PUT body whole, the
file part of a multipart form), and the rest of a form (fields, part headers, boundaries) is kept in memory
for werkzeug's parser, which then reads the file part as empty and takes the spool instead (SpoolingRequest)."""
import io
from http import HTTPStatus

from waitress.utilities import Error
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import BLANK_LINE_RE, HEADER_CONTINUATION_RE, LINE_BREAK_RE

from fenfa_lib.config import FORM_ALLOWANCE
from fenfa_lib.web.envelope import machine_fault
from fenfa_lib.web.spool import spool_for

HORIZONTAL_SPACE = b" \t\x0b\x0c"  # what werkzeug's boundary pattern allows between a boundary and its line break


class Refusal(Error):
    """A request the server refuses before the app sees it: when its headers arrive (see server.Admission), or
    while its upload body arrives (too large, malformed, or the disk failed)."""

    def __init__(self, code, message, retry_after=None):
        super().__init__(message)
        self.code = code
        self.reason = HTTPStatus(code).phrase
        self.retry_after = retry_after


def upload_receiver(config, method, headers, content_length):
    """The receiver of an upload route's body of `content_length` bytes (in place of waitress's
    FixedStreamReceiver), or None to leave the body to waitress: a raw PUT body is the file; a multipart
    form is split."""
    if method == "PUT":
        return UploadReceiver(content_length, RawBody(config))
    mimetype, options = parse_options_header(headers.get("CONTENT_TYPE", ""))
    boundary = options.get("boundary", "")
    if mimetype == "multipart/form-data" and boundary and boundary.isascii():
        return UploadReceiver(content_length, FormSplitter(config, boundary.encode()))
    return None


class ReceivedBody(io.BytesIO):
    """wsgi.input of a received upload: the body without its file's bytes, and the `spool` that holds them."""

    def __init__(self, kept, spool):
        super().__init__(kept)
        self.spool = spool


class UploadReceiver:
    """waitress's stream consumer for a body of known length: each piece goes to `sink` as it arrives. A failure
    discards what was spooled; the rest of the body is read and dropped, so that a client still sending it
    reads the refusal rather than a reset connection."""

    completed = False
    error = None

    def __init__(self, length, sink):
        self.remain = length
        self.sink = sink
        self.refusal = None
        self.body = None

    def received(self, data):
        if self.completed:
            return 0
        piece = data if len(data) <= self.remain else data[:self.remain]
        self.remain -= len(piece)
        if self.refusal is None:
            try:
                self.sink.feed(piece)
                if not self.remain:
                    self.sink.end()
            except (BadRequest, RequestEntityTooLarge) as exc:
                self.refuse(Refusal(exc.code, exc.description))
            except OSError as exc:
                self.refuse(Refusal(*(machine_fault(exc) or (500, "internal server error", None))))
        if not self.remain:
            self.error = self.refusal
            self.completed = True
        return len(piece)

    def refuse(self, refusal):
        self.refusal = refusal
        self.close()

    def __len__(self):
        return len(self.sink.kept)

    def __bool__(self):
        return True  # a receiver, even while it keeps no bytes

    def getfile(self):
        if self.body is None:
            self.body = ReceivedBody(bytes(self.sink.kept), self.sink.spool)
        return self.body

    def getbuf(self):
        return self

    def close(self):
        if self.sink.spool is not None:
            self.sink.spool.discard()


class RawBody:
    """A raw body: all of it is the file."""

    kept = b""
    spool = None

    def __init__(self, config):
        self.config = config

    def feed(self, data):
        if self.spool is None:
            self.spool = spool_for(self.config)
        self.spool.write(data)

    def end(self):
        self.spool.seal()


class FormSplitter:
    """A multipart/form-data body split as it arrives: the content of its first file part goes to a spool,
    everything else is kept. Boundaries, header blocks and line breaks are found where werkzeug's
    MultipartDecoder finds them, so that werkzeug reads the kept bytes as the same form with that part empty.
    The content of a further file part is dropped: werkzeug refuses the form for it."""

    def __init__(self, config, boundary):
        self.config = config
        self.delimiter = b"--" + boundary
        self.kept = bytearray()
        self.scan = 0  # where in `kept` the next boundary (its line break included) may start
        self.first = True  # the first boundary needs no line break before it
        self.epilogue = False
        self.spool = None
        self.file = None  # where the content of the file part being received goes
        self.held = b""  # bytes of that part not written yet: they may begin its closing boundary
        self.skip = 0  # how many of them are the line break that starts the content, not content

    def feed(self, data):
        if self.file is not None:
            data = self.file_content(self.held + data)
            if data is None:
                return
        self.keep(data)
        while not self.epilogue and self.file is None and self.next_part():
            pass

    def end(self):
        if self.file is not None:
            raise BadRequest("the form ended inside its file part")
        if self.spool is not None:
            self.spool.seal()

    def keep(self, data):
        if len(self.kept) + len(data) > FORM_ALLOWANCE:
            raise RequestEntityTooLarge(f"an upload form's fields must be at most {FORM_ALLOWANCE} bytes")
        self.kept += data

    def next_part(self):
        """Read the next boundary and part headers in `kept`, and move a file part's content on to its spool.
        False when more bytes are needed or the epilogue is reached."""
        found, _ = self.boundary_in(self.kept, self.scan, line_start=not self.first)
        if found is None:
            return False
        line_end, closing = found[1:]
        if closing:
            self.epilogue = True
            return False
        blank = BLANK_LINE_RE.search(self.kept, line_end)
        if blank is None or blank.end() == len(self.kept):
            return False  # the content's first line break is read with the byte after it, as werkzeug reads it
        self.first = False
        headers_end = (blank.start() + blank.end()) // 2  # werkzeug's: the content's line break starts here
        self.scan = headers_end
        if is_file_part(self.kept[line_end:blank.start()]):
            content = bytes(self.kept[headers_end:])
            del self.kept[headers_end:]
            self.skip = LINE_BREAK_RE.match(content).end()
            if self.spool is None:
                self.file = self.spool = spool_for(self.config)
            else:
                self.file = Dropped()
            rest = self.file_content(content)
            if rest is not None:
                self.keep(rest)
        return True

    def file_content(self, data):
        """Write the file content in `data` (which starts with the bytes held back before); the bytes from the
        part's closing boundary on, or None while the part goes on."""
        found, hold_from = self.boundary_in(data, 0, line_start=True)
        if found is None:
            if hold_from > self.skip:
                self.file.write(memoryview(data)[self.skip:hold_from])
                data, self.skip = data[hold_from:], 0
            self.held = data
            return None
        start = found[0]
        self.file.write(memoryview(data)[self.skip:max(start, self.skip)])
        self.file, self.held, self.skip = None, b"", 0
        self.scan = len(self.kept)
        return data[start:]

    def boundary_in(self, data, position, line_start):
        """((start, end of its line, closing), None) for the first boundary in `data` from `position` on,
        where `start` includes the line break before it; else (None, where a boundary may yet begin)."""
        search = position
        while (index := data.find(self.delimiter, search)) >= 0:
            start = line_break_before(data, index, position)
            if start is not None or not line_start:
                ending = line_ending(data, index + len(self.delimiter))
                if ending is None:
                    return None, (index if start is None else start)
                if ending:
                    return ((index if start is None else start), *ending), None
            search = index + 1
        # A line break and a delimiter that have not arrived in full start in the last len(delimiter) + 1 bytes;
        # one more keeps the first byte of a CR LF with the LF.
        return None, max(position, len(data) - len(self.delimiter) - 2)


def line_break_before(data, index, floor):
    """Where the line break right before `index` starts (at or after `floor`), else None."""
    if index - 2 >= floor and data[index - 2:index] == b"\r\n":
        return index - 2
    if index - 1 >= floor and data[index - 1] in b"\r\n":
        return index - 1
    return None


def line_ending(data, after):
    """How the bytes from `after` end a boundary's line, as werkzeug's pattern reads them: (end of the line,
    closing) after "--" (the closing boundary) or horizontal space and a line break; () for anything else;
    None while too few bytes have arrived to tell."""
    if data[after:after + 2] == b"--":
        return len(data), True
    if len(data) - after < 2 and data[after:] in (b"", b"-"):
        return None
    index = after
    while index < len(data) and data[index] in HORIZONTAL_SPACE:
        index += 1
    if index == len(data):
        return None
    if data[index] not in b"\r\n":
        return ()
    if data[index:index + 2] == b"\r\n":
        return index + 2, False
    if data[index] == 13 and index + 1 == len(data):
        return None  # a CR whose LF may follow
    return index + 1, False


def is_file_part(header_block):
    """Whether a part's headers name a file, as werkzeug decides: a filename in its Content-Disposition."""
    for line in HEADER_CONTINUATION_RE.sub(b" ", bytes(header_block)).splitlines():
        name, _, value = line.strip(b" \t").decode("utf-8", "replace").partition(":")
        if name.strip(" \t").lower() == "content-disposition":
            return "filename" in parse_options_header(value.strip(" \t"))[1]
    return False


class Dropped:
    """Where the content of a second file part goes: nowhere."""

    def write(self, data):
        pass
