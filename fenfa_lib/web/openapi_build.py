"""The building blocks of the OpenAPI document's operations (openapi_paths.py): security requirements, parameters,
bodies, the envelope and the error answers every route of a kind may give."""
from fenfa_lib.web.validate import MAX_LIMIT, MAX_OFFSET

ADMIN = [{"AdminToken": []}, {"AdminSession": [], "CsrfToken": []}]
UPLOAD = [{"UploadToken": []}, *ADMIN]
PUBLIC = []
ID_PATTERNS = {"product_id": "prd_", "variant_id": "var_", "release_id": "rel_", "device_id": "dev_",
               "webhook_id": "whk_"}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def text(max_length=255, **extra):
    return {"type": "string", "maxLength": max_length, **extra}


def param(name, where, description, schema=None, required=False):
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or {"type": "string"}}


def path_param(name, description=None):
    kind = name.removesuffix("_id")
    prefix = ID_PATTERNS.get(name)
    hint = f" (`{prefix}` and 16 hex characters)" if prefix else ""
    return param(name, "path", description or f"the {kind}'s ID{hint}")


def query(name, description, schema=None, required=False):
    return param(name, "query", description, schema, required)


def json_body(schema, required=False):
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def op(summary, tag, security, data=None, status=200, params=(), body=None, errors=(), content=None,
       description=None, more=None, html_errors=False):
    """One operation. Its success is the envelope around `data` (a schema), or `content` (media type -> schema)
    for a file route; `errors` are the statuses besides those every route of its kind may answer (in the
    envelope, or as HTML pages for a page)."""
    success = {"description": summary}
    if content:
        success["content"] = content
    elif content is None:
        success["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Success"} if data is None
                                                   else envelope(data)}}
    codes = set(errors) | {500}
    if security:
        codes |= {401, 403, 429}
    if body is not None and "application/json" in body["content"]:
        codes |= {400, 413}
    if any(item["in"] == "path" for item in params):
        codes.add(404)
    if any(item["in"] == "query" and item["schema"].get("type") == "integer" for item in params):
        codes.add(400)
    operation = {
        "summary": summary,
        "tags": [tag],
        "security": security,
        "parameters": list(params),
        "responses": {str(status): success, **(more or {}),
                      **{str(code): error_response(code, html_errors) for code in sorted(codes)}},
    }
    if description:
        operation["description"] = description
    if body is not None:
        operation["requestBody"] = body
    return operation


def error_response(code, html):
    if html:
        return {"description": f"an error page ({code})", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {"$ref": f"#/components/responses/{code}"}


def envelope(data):
    return {"type": "object", "required": ["ok", "data"], "additionalProperties": False,
            "properties": {"ok": {"const": True}, "data": data}}


def items_of(name):
    return {"type": "object", "required": ["items", "total"],
            "properties": {"items": {"type": "array", "items": ref(name)}, "total": {"type": "integer", "minimum": 0}}}


def wrapped(key, name):
    return {"type": "object", "required": [key], "properties": {key: ref(name)}}


def file_content(*media_types):
    return {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in media_types}


HTML = {"text/html": {"schema": {"type": "string"}}}


def listed(shape):
    return {"type": "object", "required": ["items", "total"],
            "properties": {"items": {"type": "array", "items": shape}, "total": {"type": "integer", "minimum": 0}}}


PAGE = [
    query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}),
    query("offset", "rows to skip", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
]
MOMENT = {"type": "string", "description": "ISO 8601 date or datetime"}
TIME_RANGE = [
    query("from", "from this moment on (ISO 8601 date or datetime)", MOMENT),
    query("to", "up to this moment (a bare date includes that whole day)", MOMENT),
]
