"""Running the app under waitress, with request bodies spooled on the data disk."""
import json
import logging
import tempfile

from waitress import create_server
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from fenfa_lib.web.envelope import error_code, upload_limit_message

log = logging.getLogger("fenfa")


class EnvelopeErrorTask(ErrorTask):
    """waitress's own refusals (a body over the limit, a malformed request) in Fenfa's JSON envelope."""

    def execute(self):
        error = self.request.error
        message = upload_limit_message(self.channel.server.upload_limit_mb) if error.code == 413 else error.reason
        body = json.dumps({"ok": False, "error": {"code": error_code(error.code), "message": message}}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class EnvelopeChannel(HTTPChannel):
    error_task_class = EnvelopeErrorTask


def serve(app):
    """Serve until interrupted. waitress reads each body into a temporary file before the app runs:
    those files go to <data_dir>/tmp, beside the uploads, and bodies may be as large as uploads."""
    settings = app.config["FENFA"]
    tempfile.tempdir = str(settings["data_dir"] / "tmp")
    server = create_server(
        app,
        host=settings["host"],
        port=settings["port"],
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
        threads=8,
        channel_timeout=300,
    )
    server.channel_class = EnvelopeChannel
    server.upload_limit_mb = settings["max_upload_mb"]
    log.info("serving on http://%s:%s", settings["host"], server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
