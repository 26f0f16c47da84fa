"""The audit log's web side: one hook after every request that records each admin write the app accepted and
every sign-in attempt, and GET /admin/api/audit. Refused writes (4xx, 5xx) changed nothing and are not
recorded: anyone could otherwise fill the log without a token; the access log and the lockout see them."""
from flask import Blueprint, request

from fenfa_lib import audit
from fenfa_lib.models import AuditEntry
from fenfa_lib.web import validate
from fenfa_lib.web.auth import request_actor, require_admin
from fenfa_lib.web.client import request_client
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import audit_entry_dict

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/api")
require_admin(bp)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN = "admin_pages.sign_in"
NOT_WRITES = frozenset({"upload.parse_app"})  # a POST only to carry its file: it stores nothing
NAMED_ACTIONS = {SIGN_IN: "sign_in", "admin_pages.sign_out": "sign_out", "upload.smart_upload": "release.smart_upload"}
VERBS = {"put": "update"}  # put_settings: PUT /settings changes them


def is_admin_write(rule, method, endpoint):
    """Whether a request to `rule` with `method` is an admin write: a write method on a route under /admin/."""
    return method in WRITE_METHODS and rule.startswith("/admin/") and endpoint not in NOT_WRITES


def action_of(endpoint, rule):
    """`noun.verb` of an admin write, from its view's name: create_product → product.create, put_settings →
    settings.update; a one-word view takes its noun from its route's ID (publish, at /apps/<app_id>/publish,
    → app.publish)."""
    if endpoint in NAMED_ACTIONS:
        return NAMED_ACTIONS[endpoint]
    verb, _, noun = endpoint.rpartition(".")[2].partition("_")
    if not noun:
        noun = next((name.removesuffix("_id") for name in sorted(rule.arguments) if name.endswith("_id")), "")
    return f"{noun}.{VERBS.get(verb, verb)}"


def target_of(action, response):
    """The ID acted on: the answer's `<noun>` object's (a created product, link, token...), else the route's."""
    answer = response.get_json(silent=True) if response.is_json else None
    acted_on = (answer or {}).get("data", {}).get(action.partition(".")[0]) if isinstance(answer, dict) else None
    if isinstance(acted_on, dict) and isinstance(acted_on.get("id"), str):
        return acted_on["id"]
    path_ids = [value for name, value in sorted((request.view_args or {}).items()) if name.endswith("_id")]
    return path_ids[0] if path_ids else ""


@bp.after_app_request
def record_admin_write(response):
    """Add the audit row of this request, once its answer is built and its own transaction committed."""
    rule = request.url_rule
    if rule is None or not is_admin_write(rule.rule, request.method, request.endpoint):
        return response
    action = action_of(request.endpoint, rule)
    if request.endpoint == SIGN_IN:
        action += ".ok" if response.status_code < 400 else ".failed"
    elif response.status_code >= 400:
        return response
    audit.record_audit(request_actor(), action, target_of(action, response), request_client().ip)
    return response


def filtered_audit():
    """Audit rows matching the query string's `action`, `target_id` and `from`/`to`, newest first."""
    entries = audit.audit_entries(request.args.get("action", "").strip(), request.args.get("target_id", "").strip())
    return validate.within_time_range(entries, AuditEntry.ts)


@bp.get("/audit")
def list_audit():
    return ok(validate.paginate(filtered_audit(), audit_entry_dict))
