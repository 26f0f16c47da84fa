"""Admin API for named tokens: make one (its secret answered this once), list them, revoke one."""
from flask import Blueprint

from fenfa_lib import tokens
from fenfa_lib.models import ApiToken
from fenfa_lib.web import validate
from fenfa_lib.web.admin.catalog import read_fields
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import token_dict
from fenfa_lib.web.validate import get_or_404

bp = Blueprint("admin_tokens", __name__, url_prefix="/admin/api")
require_admin(bp)
MAX_ID_LENGTH = 64


def token_fields(body):
    readers = {
        "name": lambda: validate.text(body, "name", required=True, max_length=tokens.MAX_NAME_LENGTH),
        "scope": lambda: validate.text(body, "scope", required=True, max_length=16),
        "product_id": lambda: validate.text(body, "product_id", max_length=MAX_ID_LENGTH) or None,
    }
    return read_fields(body, readers, creating=True)


@bp.post("/tokens")
def create_token():
    token, secret = tokens.create_token(**token_fields(validate.json_object()))
    return ok({"token": token_dict(token), "secret": secret}, 201)


@bp.get("/tokens")
def list_tokens():
    return ok(validate.paginate(tokens.all_tokens(), token_dict))


@bp.delete("/tokens/<token_id>")
def revoke_token(token_id):
    return ok({"deleted": tokens.revoke_token(get_or_404(ApiToken, token_id, "token"))})
