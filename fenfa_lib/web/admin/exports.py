"""CSV exports for cron jobs: streamed in batches, RFC 4180, safe to open in a spreadsheet."""
import csv
import io
import json
from datetime import datetime
from itertools import islice

from flask import Blueprint, Response

from fenfa_lib.models import Event, db, iso
from fenfa_lib.uploads import CI_FIELDS
from fenfa_lib.web.admin.queries import filtered_devices, filtered_events, filtered_releases
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.shapes import ci_dict, device_dict

bp = Blueprint("exports", __name__, url_prefix="/admin/exports")
require_admin(bp)
CSV_CHUNK_BYTES = 64 * 1024
BATCH_ROWS = 500  # rows fetched and written at a time: about 35 KiB of events
FORMULA_STARTS = frozenset("=+-@\t\r")
RELEASE_COLUMNS = ("release_id", "product_id", "variant_id", "platform", "identifier", "version", "build", "channel",
                   "file_name", "size_bytes", "sha256", "download_count", "created_at", *CI_FIELDS)
EVENT_COLUMNS = ("id", "ts", "type", "product_id", "variant_id", "release_id", "ip", "user_agent", "extra")
DEVICE_COLUMNS = ("udid", "device_name", "model", "os_version", "serial", "created_at", "last_seen_at",
                  "apple_registered", "apple_device_id", "variant_ids")


def guarded(text):
    """`text` with a leading formula character neutralised by a quote, so a spreadsheet shows it as text."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def cell(value):
    """Text for one CSV cell of any value a shaped row holds, formula-guarded."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        value = ";".join(value) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
    return guarded("" if value is None else str(value))


def csv_response(file_name, columns, batches):
    """Stream the rows of the lists that `batches()` yields (rows of cells, in `columns` order) as CSV in
    pieces of about 64 KiB, without caching them, so memory does not grow with rows. The request's database
    connection is closed before the body is sent, so the query runs on a connection of the stream's own."""
    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        db.connect(reuse_if_open=True)
        try:
            for batch in batches():
                writer.writerows(batch)
                if buffer.tell() >= CSV_CHUNK_BYTES:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        finally:
            db.close()
        yield buffer.getvalue()

    return Response(generate(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


def shaped_batches(query, to_row, columns):
    """A batches() over model instances turned into dicts by `to_row`: for the smaller exports."""
    def batches():
        shaped = map(to_row, query.iterator())
        while batch := [[cell(row[column]) for column in columns] for row in islice(shaped, BATCH_ROWS)]:
            yield batch

    return batches


def event_batches(query):
    """A batches() straight off the database cursor: a million events are too many to build a model instance
    and a dict for each. The stored text already is what the cells hold (the extra JSON as saved, whose
    first character is always "{"), but for timestamps, which are cut to seconds and marked UTC as iso()
    does. Only the address and the browser come from outside; a formula guard on the rest would change
    nothing."""
    columns = query.select(*(getattr(Event, name) for name in EVENT_COLUMNS))

    def batches():
        cursor = db.execute(columns)
        while batch := cursor.fetchmany(BATCH_ROWS):
            yield [(event_id, iso_text(ts), event_type, product_id, variant_id, release_id, guarded(ip),
                    guarded(user_agent), extra)
                   for event_id, ts, event_type, product_id, variant_id, release_id, ip, user_agent, extra in batch]

    return batches


def iso_text(stored):
    """iso() of a timestamp as the cursor gives it: text on SQLite ("2026-12-01 10:21:00.123456"), a datetime on
    PostgreSQL."""
    if isinstance(stored, datetime):
        return iso(stored)
    return f"{stored[:10]}T{stored[11:19]}Z" if stored else None


def release_row(release):
    return {
        "release_id": release.id, "product_id": release.variant.product_id, "variant_id": release.variant_id,
        "platform": release.variant.platform, "identifier": release.identifier or release.variant.identifier,
        "version": release.version, "build": release.build, "channel": release.channel,
        "file_name": release.file_name, "size_bytes": release.size_bytes, "sha256": release.sha256,
        "download_count": release.download_count, "created_at": iso(release.created_at),
        **ci_dict(release),
    }


@bp.get("/releases.csv")
def releases_csv():
    return csv_response("releases.csv", RELEASE_COLUMNS,
                        shaped_batches(filtered_releases(), release_row, RELEASE_COLUMNS))


@bp.get("/events.csv")
def events_csv():
    return csv_response("events.csv", EVENT_COLUMNS, event_batches(filtered_events()))


@bp.get("/ios_devices.csv")
def ios_devices_csv():
    return csv_response("ios_devices.csv", DEVICE_COLUMNS,
                        shaped_batches(filtered_devices(), device_dict, DEVICE_COLUMNS))
