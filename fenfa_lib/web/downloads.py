"""GET /d/:releaseID — the build file, with ranges, conditional requests and download counting (a full download
through a share link counts against the link's max_downloads too)."""
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, request, send_file
from waitress.buffers import ReadOnlyFileBasedBuffer
from werkzeug.wsgi import wrap_file

from fenfa_lib.access import claim_link_download
from fenfa_lib.catalog import published_release
from fenfa_lib.errors import ApiError
from fenfa_lib.events import count_download
from fenfa_lib.packages.filetypes import content_type
from fenfa_lib.release_files import storage_for
from fenfa_lib.storage import content_disposition
from fenfa_lib.web.access import require_access
from fenfa_lib.web.client import request_client

bp = Blueprint("downloads", __name__)


@bp.get("/d/<release_id>")
def download(release_id):
    release = published_release(release_id)
    grant = require_access(release.variant.product, release.id)
    ignore_unusable_range()
    response = file_response(release)
    if hands_over_whole_file(response, release.size_bytes):
        if grant and grant.link_id and not claim_link_download(grant.link_id):
            response.close()
            raise ApiError(401, "this share link has no downloads left")
        count_download(release, request_client())
    return response


def file_response(release):
    """The local file (ranges and conditional requests answered by werkzeug), or a redirect to the store."""
    storage = storage_for(release.storage)
    path = storage.local_path(release.storage_key)
    if path is None:
        return redirect(storage.download_url(release.storage_key, release.file_name, content_type(release.file_name)))
    if not path.is_file():
        raise ApiError(404, f"the file of release {release.id} is missing from storage")
    accel_prefix = current_app.config["FENFA"]["accel_redirect"]
    if accel_prefix:
        return accelerated_response(release, accel_prefix)
    response = send_file(
        path,
        mimetype=content_type(release.file_name),
        as_attachment=True,
        download_name=release.file_name,
        conditional=True,
        etag=release.sha256,
        max_age=0,
    )
    if response.status_code == 206 and request.environ.get("wsgi.file_wrapper") is ReadOnlyFileBasedBuffer:
        send_range_from_server(response, path)
    return response


def send_range_from_server(response, path):
    """Let waitress send a 206's bytes from its own I/O loop, as it does a whole file, so that a slow reader
    holds no worker thread: its file wrapper is handed a file positioned at the range's first byte, and it
    stops at Content-Length."""
    response.response.close()  # werkzeug's range iterator over its own handle of the file
    handle = open(path, "rb")  # noqa: SIM115 - the server closes it once the range is sent
    handle.seek(response.content_range.start)
    response.response = wrap_file(request.environ, handle)
    response.direct_passthrough = True


def accelerated_response(release, accel_prefix):
    """An empty answer whose X-Accel-Redirect has nginx send the stored file (ranges included) itself."""
    response = Response(status=200, mimetype=content_type(release.file_name))
    response.headers["X-Accel-Redirect"] = accel_prefix + quote(release.storage_key)
    response.headers["Content-Disposition"] = content_disposition(release.file_name)
    response.set_etag(release.sha256)
    response.headers["Cache-Control"] = "no-cache"
    if response.make_conditional(request.environ).status_code == 304:
        del response.headers["X-Accel-Redirect"]  # the client's copy is current: nothing for nginx to send
    return response


def ignore_unusable_range():
    """Serve the whole file for a Range header that does not parse, is not in bytes or asks for
    several ranges, as RFC 9110 allows, instead of refusing with 416."""
    ranges = request.range
    if "HTTP_RANGE" in request.environ and (ranges is None or ranges.units != "bytes" or len(ranges.ranges) != 1):
        del request.environ["HTTP_RANGE"]


def hands_over_whole_file(response, size):
    """What counts as a download: a GET answered with the whole file, whether sent here (200, or a 206 whose
    range covers it all), or handed over (a redirect to the store, nginx's X-Accel-Redirect) for a request
    that asks for all of it. HEAD, partial ranges (a probe of the first bytes too), 304 and 416 do not
    count."""
    if request.method != "GET":
        return False
    if response.status_code == 206:
        return response.content_range.start == 0 and response.content_range.stop == size
    if response.status_code == 302 or "X-Accel-Redirect" in response.headers:
        return request.range is None or request.range.range_for_length(size) == (0, size)
    return response.status_code == 200
