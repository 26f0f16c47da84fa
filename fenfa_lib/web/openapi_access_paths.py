"""The OpenAPI document's routes of named tokens and the audit log, merged into openapi_paths.PATHS."""
from fenfa_lib.tokens import MAX_NAME_LENGTH, SCOPES
from fenfa_lib.web.admin.tokens import MAX_ID_LENGTH
from fenfa_lib.web.openapi_build import ADMIN, PAGE, TIME_RANGE, json_body, listed, op, path_param, query, text

MAYBE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
TOKEN_SHAPE = {"type": "object", "required": ["id", "name", "scope", "product_id", "created_at", "last_used_at"],
               "properties": {"id": {"type": "string", "pattern": "^tok_[0-9a-f]{16}$"}, "name": {"type": "string"},
                              "scope": {"type": "string", "enum": list(SCOPES)},
                              "product_id": {"type": ["string", "null"]},
                              "created_at": {"type": "string", "format": "date-time"},
                              "last_used_at": MAYBE_MOMENT}}
TOKEN_INPUT = {"type": "object", "additionalProperties": False, "required": ["name", "scope"], "properties": {
    "name": text(MAX_NAME_LENGTH), "scope": {"type": "string", "enum": list(SCOPES)},
    "product_id": {**text(MAX_ID_LENGTH), "type": ["string", "null"],
                   "description": "an upload token's one product: it uploads only to that product's variants"}}}
AUDIT_SHAPE = {"type": "object", "required": ["id", "ts", "actor", "action", "target_id", "ip"], "properties": {
    "id": {"type": "integer"}, "ts": {"type": "string", "format": "date-time"},
    "actor": {"type": "string", "description": '"token tok_… (name)", "configured admin token", "admin session"…'},
    "action": {"type": "string", "description": "noun.verb, e.g. product.create, settings.update, sign_in.failed"},
    "target_id": {"type": "string"}, "ip": {"type": "string"}}}
AUDIT_FILTERS = [query("action", "only rows of this action (e.g. product.create)"),
                 query("target_id", "only rows about this ID"), *TIME_RANGE]

ACCESS_PATHS = {
    "/admin/api/tokens": {
        "get": op("List named tokens, newest first (their secrets are never shown)", "tokens", ADMIN,
                  listed(TOKEN_SHAPE), params=PAGE),
        "post": op("Make a named token; its secret is in this answer only", "tokens", ADMIN, {
            "type": "object", "required": ["token", "secret"],
            "properties": {"token": TOKEN_SHAPE, "secret": {"type": "string", "pattern": "^fenfa_"}}}, 201,
            body=json_body(TOKEN_INPUT, required=True),
            description="An admin token may not have a product_id (400): it may change every product."),
    },
    "/admin/api/tokens/{token_id}": {"delete": op(
        "Revoke a named token at once (and the sessions it signed in)", "tokens", ADMIN,
        {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}},
        params=[path_param("token_id", "the token's ID (`tok_` and 16 hex characters)")])},
    "/admin/api/audit": {"get": op(
        "The audit log, newest first: every admin write the app accepted and every sign-in", "records", ADMIN,
        listed(AUDIT_SHAPE), params=[*AUDIT_FILTERS, *PAGE], errors=[400])},
}
