"""GET /d/:releaseID — the build file, with ranges, conditional requests and download counting."""
from flask import Blueprint, redirect, request, send_file

from fenfa_lib.api import ApiError
from fenfa_lib.catalog import published_release
from fenfa_lib.events import record_event
from fenfa_lib.files import storage_for
from fenfa_lib.filetypes import content_type
from fenfa_lib.models import Release

bp = Blueprint("downloads", __name__)


@bp.get("/d/<release_id>")
def download(release_id):
    release = published_release(release_id)
    storage = storage_for(release.storage)
    path = storage.local_path(release.storage_key)
    if path is None:
        if is_first_byte_get():
            count_download(release)
        url = storage.download_url(release.storage_key, release.file_name, content_type(release.file_name))
        return redirect(url, 302)
    if not path.is_file():
        raise ApiError(404, f"the file of release {release_id} is missing from storage")
    ignore_unusable_range()
    response = send_file(
        path,
        mimetype=content_type(release.file_name),
        as_attachment=True,
        download_name=release.file_name,
        conditional=True,
        etag=release.sha256,
        max_age=0,
    )
    starts_at_zero = response.status_code == 200 or (
        response.status_code == 206 and response.content_range and response.content_range.start == 0
    )
    if request.method == "GET" and starts_at_zero:
        count_download(release)
    return response


def ignore_unusable_range():
    """Serve the whole file for a Range header that does not parse, is not in bytes or asks for
    several ranges, as RFC 9110 allows, instead of refusing with 416."""
    ranges = request.range
    if "HTTP_RANGE" in request.environ and (ranges is None or ranges.units != "bytes" or len(ranges.ranges) != 1):
        del request.environ["HTTP_RANGE"]


def is_first_byte_get():
    """A GET for the whole file or a range from byte 0: resumed ranges and HEAD do not count."""
    if request.method != "GET":
        return False
    ranges = request.range
    return ranges is None or ranges.ranges[0][0] == 0


def count_download(release):
    Release.update(download_count=Release.download_count + 1).where(Release.id == release.id).execute()
    record_event("download", release.variant.product_id, release.variant_id, release.id)
