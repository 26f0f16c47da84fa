"""Checks for request input at the edge; each failure is a 400 naming the field."""
import json
from datetime import date, datetime, time, timedelta

from flask import request

from fenfa_lib.config import MAX_SMALL_BODY
from fenfa_lib.errors import ApiError
from fenfa_lib.models import naive_utc
from fenfa_lib.text import has_control_characters

MAX_LIMIT = 1000
MAX_OFFSET = 2**62  # far past any table, well inside SQLite's 64-bit integers


def limited_body(limit):
    """The raw body; 413 past `limit` bytes, whether or not Content-Length says so."""
    if (request.content_length or 0) > limit:
        raise ApiError(413, f"request body must be at most {limit} bytes")
    chunks, size = [], 0
    while size <= limit:
        chunk = request.stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise ApiError(413, f"request body must be at most {limit} bytes")
    return b"".join(chunks)


def json_object(limit=MAX_SMALL_BODY):
    """The request body as a JSON object (an empty body is `{}`); 413 past `limit` bytes, 400 for
    anything that is not strict JSON text (NaN, Infinity, lone surrogates, absurd nesting)."""
    raw = limited_body(limit)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        raise ApiError(400, "request body must be valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def text(body, name, required=False, max_length=255, default=None, multiline=False):
    """The text field `name`, stripped; control characters are refused (tabs and line breaks too, unless
    `multiline`), since names end up in plists and profiles."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, f"{name} is required")
        return default
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if has_control_characters(value.strip(), multiline):
        lines = " other than tabs and line breaks" if multiline else ""
        raise ApiError(400, f"{name} must not contain control characters{lines}")
    value = value.strip()
    if required and not value:
        raise ApiError(400, f"{name} is required")
    if len(value) > max_length:
        raise ApiError(400, f"{name} must be at most {max_length} characters")
    return value


def boolean(body, name, default=None):
    if name not in body:
        return default
    if not isinstance(body[name], bool):
        raise ApiError(400, f"{name} must be true or false")
    return body[name]


def integer(body, name, default=None, minimum=-(2**63), maximum=2**63 - 1):
    if name not in body:
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}")
    return value


def get_or_404(model, row_id, label):
    """The `model` row with the ID a request names, else 404 "<label> <ID> not found"."""
    row = model.get_or_none(model.id == row_id)
    if row is None:
        raise ApiError(404, f"{label} {row_id} not found")
    return row


def known_fields(body, allowed, what="field"):
    """400 naming the first field of `body` that is not in `allowed` (a typo must not pass silently)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown {what}: {unknown[0]}")


def query_int(name, default, minimum, maximum):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}")
    return value


def page_args():
    """(limit, offset) from the query string: limit 1..1000 (default 50), offset >= 0."""
    return query_int("limit", 50, 1, MAX_LIMIT), query_int("offset", 0, 0, MAX_OFFSET)


def paginate(query, serialize):
    limit, offset = page_args()
    return {"items": [serialize(row) for row in query.limit(limit).offset(offset)], "total": query.count()}


def query_moment(name):
    """(naive UTC datetime, whether it was a bare date) from query argument `name`, or (None, False)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None, False
    try:
        try:
            moment, is_date = datetime.combine(date.fromisoformat(raw), time()), True
        except ValueError:
            moment, is_date = naive_utc(datetime.fromisoformat(raw)), False
    except (ValueError, OverflowError):
        moment = None
    if moment is None or moment.year > 9998:
        raise ApiError(400, f"{name} must be an ISO 8601 date or datetime before the year 9999")
    return moment, is_date


def within_time_range(query, column):
    """`query` limited by the `from` and `to` query arguments; a bare `to` date includes that whole day."""
    start, _ = query_moment("from")
    if start:
        query = query.where(column >= start)
    end, whole_day = query_moment("to")
    if end:
        query = query.where(column < end + timedelta(days=1) if whole_day else column <= end)
    return query
