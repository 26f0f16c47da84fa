"""GET /openapi.json: an OpenAPI 3.1 document of the JSON and file routes, built from data (the routes are in
openapi_paths.py). tests/test_openapi.py keeps it equal to the app's URL map."""
from flask import Blueprint, jsonify

from fenfa_lib import __version__
from fenfa_lib.access import ACCESS_LEVELS, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from fenfa_lib.events import EVENT_TYPES
from fenfa_lib.ids import MAX_SLUG_LENGTH
from fenfa_lib.packages.filetypes import EXTENSIONS
from fenfa_lib.web.admin.apple import MAX_BATCH
from fenfa_lib.web.admin.catalog import INT32_MAX, INT32_MIN
from fenfa_lib.web.admin.settings import MAX_PRESIGN_SECONDS, MAX_RETENTION_DAYS, SECRET_FIELDS, STORAGE_TYPES
from fenfa_lib.web.auth import CSRF_HEADER
from fenfa_lib.web.envelope import ERROR_CODES
from fenfa_lib.web.openapi_build import ref, text
from fenfa_lib.web.openapi_paths import PATHS
from fenfa_lib.web.public_api import MAX_EXTRA_KEYS, MAX_EXTRA_TEXT
from fenfa_lib.web.upload import FORM_LIMITS

bp = Blueprint("openapi", __name__)
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
MOMENT = {"type": ["string", "null"], "description": "ISO 8601 UTC datetime"}
NULLABLE_TEXT = {"type": ["string", "null"]}
ANY_OBJECT = {"type": "object"}
ERROR_DESCRIPTIONS = {
    400: "a field or query argument is invalid; the message names it",
    401: "no X-Auth-Token header (nor admin session), or an unknown token",
    403: "the token's scope is too small (an upload token on an admin route), or a signed-in browser without "
         f"its {CSRF_HEADER} header",
    404: "the named object, or the endpoint, does not exist",
    405: "the method is not allowed on this path",
    409: "the package's identifier was taken by another app during the upload",
    413: "the body is larger than the route allows",
    416: "the range is outside the file",
    429: "this address used up its budget (anonymous writes, or failed token checks); see Retry-After",
    500: "an unexpected server error",
    502: "Apple refused; the message holds Apple's detail",
    503: "the database or file storage is unavailable",
}
SLUG = {"type": "string", "maxLength": MAX_SLUG_LENGTH, "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
        "description": "lower-case letters, digits and single dashes"}
PRODUCT_FIELDS = {
    "name": text(minLength=1),
    "slug": SLUG,
    "description": text(10000),
    "published": BOOLEAN,
    "access": {"type": "string", "enum": list(ACCESS_LEVELS),
               "description": "who may open the product's public routes: anyone, visitors with its password or a "
                              "share link, or share links only"},
    "password": {"type": ["string", "null"], "minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH,
                 "writeOnly": True, "description": "needed when access is password; kept only as a slow hash"},
}
VARIANT_FIELDS = {
    "platform": {"type": "string", "enum": list(EXTENSIONS)},
    "display_name": text(minLength=1),
    "identifier": text(minLength=1, description="bundle ID or package name"),
    "arch": text(32),
    "installer_type": text(16),
    "min_os": text(32),
    "sort_order": {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX},
    "published": BOOLEAN,
    "keep_releases": {"type": ["integer", "null"], "minimum": 1, "maximum": INT32_MAX,
                      "description": "after each upload, keep the pinned releases and this many newest unpinned "
                                     "ones, deleting the rest with their files; null keeps every release"},
}
RELEASE_FIELDS = {  # what PUT /admin/api/releases/{release_id} changes; null clears a text
    "changelog": {"type": ["string", "null"], "maxLength": FORM_LIMITS["changelog"]},
    "channel": {"type": ["string", "null"], "maxLength": FORM_LIMITS["channel"]},
    "pinned": {"type": "boolean", "description": "a pinned release is never deleted by the variant's keep_releases"},
}
URL = {"type": "string", "description": "an http(s):// base URL"}
SETTING_FIELDS = {  # every setting PUT /admin/api/settings takes; null clears it
    "primary_domain": URL,
    "secondary_domains": {"type": "array", "items": URL},
    "organization": text(),
    "storage_type": {"type": "string", "enum": list(STORAGE_TYPES)},
    "s3_endpoint": URL,
    "s3_region": {"type": "string", "pattern": "^([a-z0-9-]{1,32})?$"},
    "s3_bucket": {"type": "string", "pattern": "^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$"},
    "s3_access_key": text(),
    "s3_secret_key": text(),
    "s3_public_url": URL,
    "s3_presign_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_PRESIGN_SECONDS},
    "s3_path_style": BOOLEAN,
    "upload_domain": URL,
    "apple_key_id": text(),
    "apple_issuer_id": text(),
    "apple_private_key": {"type": "string", "description": "the App Store Connect API key (.p8, EC P-256 PEM)"},
    "apple_team_id": text(),
    "events_retention_days": {"type": "integer", "minimum": 1, "maximum": MAX_RETENTION_DAYS,
                              "description": "events older than this many days are deleted daily; null keeps them"},
}


def nullable(schema):
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


def strict_object(properties, required=()):
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": properties}


def loose_object(required, **properties):
    """A response object: these fields at least (their names), perhaps more."""
    return {"type": "object", "required": list(required), "properties": properties}


def request_schemas():
    settings = {name: {**nullable(schema), **({"writeOnly": True} if name in SECRET_FIELDS else {})}
                for name, schema in SETTING_FIELDS.items()}
    extra_value = {"type": ["string", "number", "boolean", "null"], "maxLength": MAX_EXTRA_TEXT}
    return {
        "ProductCreate": strict_object(PRODUCT_FIELDS, ("name", "slug")),
        "ProductUpdate": strict_object(PRODUCT_FIELDS),
        "VariantCreate": strict_object(VARIANT_FIELDS, ("platform", "display_name", "identifier")),
        "VariantUpdate": strict_object(VARIANT_FIELDS),
        "ReleaseUpdate": strict_object(RELEASE_FIELDS),
        "SettingsUpdate": strict_object(settings),
        "EventInput": {**strict_object({
            "type": {"type": "string", "enum": ["click", "visit"]},
            "release_id": text(64),
            "variant_id": text(64),
            "extra": {"type": "object", "maxProperties": MAX_EXTRA_KEYS,
                      "propertyNames": {"pattern": "^[A-Za-z0-9_.-]{1,32}$"}, "additionalProperties": extra_value},
        }, ("type",)), "anyOf": [{"required": ["release_id"]}, {"required": ["variant_id"]}]},
        "RegisterDevices": strict_object({"device_ids": {"type": "array", "items": STRING, "maxItems": MAX_BATCH}}),
    }


def response_schemas():
    timestamps = {"created_at": MOMENT, "updated_at": MOMENT}
    product = loose_object(("id", "name", "slug", "published"), id=STRING, name=STRING, slug=STRING,
                           description=STRING, published=BOOLEAN, access=STRING, has_password=BOOLEAN, **timestamps)
    variant = loose_object(("id", "product_id", "platform"), id=STRING, product_id=STRING, platform=STRING,
                           display_name=STRING, identifier=STRING, arch=STRING, installer_type=STRING,
                           min_os=STRING, sort_order=INTEGER, published=BOOLEAN,
                           keep_releases={"type": ["integer", "null"]}, **timestamps)
    ci = loose_object(("branch", "git_commit", "ci_url", "source"), branch=STRING, git_commit=STRING, ci_url=STRING,
                      source=STRING)
    release = loose_object(("id", "variant_id", "version", "size_bytes", "sha256"), id=STRING, variant_id=STRING,
                           version=NULLABLE_TEXT, build=NULLABLE_TEXT, channel=NULLABLE_TEXT,
                           changelog=NULLABLE_TEXT, min_os=NULLABLE_TEXT, file_name=STRING, size_bytes=INTEGER,
                           sha256=STRING, download_count=INTEGER, icon_url=NULLABLE_TEXT, created_at=MOMENT,
                           storage=STRING, pinned=BOOLEAN, ci=ref("ReleaseCi"),
                           provisioning_profile={"oneOf": [ref("ProvisioningProfile"), {"type": "null"}]})
    uploaded = {"allOf": [ref("Release"), loose_object(
        ("display_name", "identifier", "min_os", "icon_url", "profile", "ci", "pinned"), display_name=STRING,
        identifier=STRING, profile={"oneOf": [{"type": "null"}, loose_object(
            ("type", "expires_at", "device_count"), type=STRING, expires_at=MOMENT, device_count=INTEGER)]})]}
    profile = loose_object(("type", "team_id", "expires_at", "device_count"), type=STRING, name=NULLABLE_TEXT,
                           uuid=NULLABLE_TEXT, team_id=NULLABLE_TEXT, team_name=NULLABLE_TEXT,
                           app_id=NULLABLE_TEXT, created_at=MOMENT, expires_at=MOMENT, device_count=INTEGER,
                           devices={"type": "array", "items": STRING}, certificates={"type": "array"})
    return {
        "Error": loose_object(("code", "message"), code={"type": "string", "enum": sorted(set(ERROR_CODES.values()))},
                              message=STRING),
        "ErrorEnvelope": {"type": "object", "required": ["ok", "error"], "additionalProperties": False,
                          "properties": {"ok": {"const": False}, "error": ref("Error")}},
        "Success": {"type": "object", "required": ["ok", "data"], "additionalProperties": False,
                    "properties": {"ok": {"const": True}, "data": {}}},
        "Product": product,
        "ProductListed": {"allOf": [ref("Product"), loose_object(("variant_count",), variant_count=INTEGER)]},
        "Variant": variant,
        "Release": release,
        "ReleaseCi": ci,
        "UploadedRelease": uploaded,
        "ProvisioningProfile": profile,
        "ProductDetail": loose_object(("product", "variants"), product=ref("Product"), variants={
            "type": "array", "items": {"allOf": [ref("Variant"), loose_object(
                ("releases",), releases={"type": "array", "items": ref("Release")})]}}),
        "VariantStats": loose_object(("product", "variant", "releases", "totals", "downloads_per_day"),
                                     product=ref("Product"), variant=ref("Variant"),
                                     releases={"type": "array", "items": ref("Release")},
                                     totals=loose_object(("downloads", "visits", "clicks", "releases")),
                                     downloads_per_day={"type": "array", "items": loose_object(("date", "downloads"))}),
        "Deleted": loose_object(("deleted",), deleted=STRING),
        "Published": loose_object(("id", "published"), id=STRING, published=BOOLEAN),
        "Event": loose_object(("id", "ts", "type"), id={"type": ["integer", "string"]}, ts=MOMENT,
                              type={"type": "string", "enum": list(EVENT_TYPES)},
                              product_id=STRING, variant_id=STRING, release_id=STRING, ip=STRING, user_agent=STRING,
                              extra=ANY_OBJECT),
        "EventCreated": loose_object(("id",), id={"type": ["integer", "string"]}),
        "Device": loose_object(("id", "udid", "variant_ids"), id=STRING, udid=STRING, device_name=NULLABLE_TEXT,
                               model=NULLABLE_TEXT, os_version=NULLABLE_TEXT, serial=NULLABLE_TEXT,
                               created_at=MOMENT, last_seen_at=MOMENT, apple_registered=BOOLEAN,
                               apple_device_id=NULLABLE_TEXT, variant_ids={"type": "array", "items": STRING}),
        "Settings": loose_object((*(name for name in SETTING_FIELDS if name not in SECRET_FIELDS), "s3_configured",
                                  "apple_configured", "updated_at", "warnings"),
                                 s3_configured=BOOLEAN, apple_configured=BOOLEAN, updated_at=MOMENT,
                                 warnings={"type": "array", "items": STRING}),
        "UploadConfig": loose_object(("storage_type", "upload_domain", "max_upload_mb", "max_upload_bytes",
                                      "allowed_extensions"), storage_type=STRING, upload_domain=STRING,
                                     max_upload_mb={"type": "number"}, max_upload_bytes=INTEGER,
                                     allowed_extensions=ANY_OBJECT),
        "UploadAnswer": loose_object(("app", "release", "urls", "duplicate", "warnings"),
                                     app=loose_object(("id", "product_id", "variant_id")),
                                     release=ref("UploadedRelease"),
                                     urls=loose_object(("page", "release_page", "download", "qrcode")),
                                     duplicate={**BOOLEAN, "description": "true: the variant had a release of this "
                                                "file (skip_duplicate), answered with 200 and nothing stored"},
                                     warnings={"type": "array", "items": STRING}),
        "ParsedApp": loose_object(("file_name", "size_bytes", "sha256", "platform", "identifier"),
                                  file_name=STRING, size_bytes=INTEGER, sha256=STRING, platform=STRING,
                                  identifier=NULLABLE_TEXT, icon=NULLABLE_TEXT, variant_id=NULLABLE_TEXT),
        "Health": loose_object(("status", "version", "db", "storage"), status=STRING, version=STRING),
        "PublicPage": ANY_OBJECT,
        "UdidStatus": loose_object(("bound", "udid", "in_profile"), bound=BOOLEAN, udid=NULLABLE_TEXT,
                                   in_profile={"type": ["boolean", "null"]}),
        "AppleStatus": loose_object(("configured", "connected", "message"), configured=BOOLEAN, connected=BOOLEAN,
                                    message=STRING),
        "Registration": loose_object(("device_id", "ok"), device_id=STRING, udid=NULLABLE_TEXT, ok=BOOLEAN,
                                     apple_device_id=NULLABLE_TEXT, error=NULLABLE_TEXT),
        "RegistrationBatch": loose_object(("success_count", "fail_count", "results"), success_count=INTEGER,
                                          fail_count=INTEGER, results={"type": "array", "items": ref("Registration")}),
    }


def error_responses():
    envelope = {"application/json": {"schema": ref("ErrorEnvelope")}}
    return {str(code): {"description": f"{ERROR_CODES.get(code, 'BAD_REQUEST')}: {description}", "content": envelope}
            for code, description in ERROR_DESCRIPTIONS.items()}


def security_schemes():
    token = ("The `X-Auth-Token` header: a configured token (compared in constant time), or a named token "
             "(`fenfa_…`, made through /admin/api/tokens, looked up by its hash); admin tokens may do all an upload "
             "token may.")
    return {
        "AdminToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token",
                       "description": f"{token} Admin scope."},
        "UploadToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token",
                        "description": f"{token} Upload scope: uploads (smart uploads into existing variants) "
                                       "and parse-app; a named upload token with a product uploads only into that "
                                       "product's variants."},
        "AdminSession": {"type": "apiKey", "in": "cookie", "name": "session",
                         "description": "A browser signed in at /admin with an admin token; it also sends "
                                        f"its {CSRF_HEADER} header."},
        "CsrfToken": {"type": "apiKey", "in": "header", "name": CSRF_HEADER,
                      "description": "The CSRF token of the signed-in browser's session."},
    }


def build_document():
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fenfa",
            "version": __version__,
            "description": (
                'Self-hosted app distribution. JSON answers are `{"ok": true, "data": …}` or '
                '`{"ok": false, "error": {"code": …, "message": …}}`, with codes '
                + ", ".join(f"`{name}` {code}" for code, name in ERROR_CODES.items())
                + ". Lists take `limit` (at most 1000) and `offset` and answer `{\"items\": […], \"total\": N}`. "
                "File routes answer in their own content type, and their errors in the envelope."),
        },
        "paths": PATHS,
        "components": {"schemas": {**request_schemas(), **response_schemas()}, "responses": error_responses(),
                       "securitySchemes": security_schemes()},
    }


DOCUMENT = build_document()


@bp.get("/openapi.json")
def openapi_document():
    response = jsonify(DOCUMENT)
    response.headers["Cache-Control"] = "no-cache"
    return response
