"""The routes of the OpenAPI document (fenfa_lib/web/openapi.py): one entry per path and method, built from the
same limits the views check. HTML pages other than the public ones are left out."""
from fenfa_lib.access import ACCESS_LEVELS, DEFAULT_LINK_HOURS, MAX_LINK_HOURS, MAX_NOTE_LENGTH, MIN_LINK_HOURS
from fenfa_lib.events import EVENT_TYPES
from fenfa_lib.ids import MAX_SLUG_LENGTH
from fenfa_lib.packages.filetypes import CONTENT_TYPES, EXTENSIONS
from fenfa_lib.web.latest import MAX_ID_LENGTH
from fenfa_lib.web.openapi_access_paths import ACCESS_PATHS
from fenfa_lib.web.openapi_build import (
    ADMIN,
    HTML,
    MOMENT,
    PAGE,
    PUBLIC,
    TIME_RANGE,
    UPLOAD,
    envelope,
    file_content,
    items_of,
    json_body,
    listed,
    op,
    param,
    path_param,
    query,
    ref,
    text,
    wrapped,
)
from fenfa_lib.web.public_api import MAX_EVENT_BYTES
from fenfa_lib.web.udid import PROFILE_MIMETYPE
from fenfa_lib.web.upload import FORM_LIMITS
from fenfa_lib.webhook_delivery import PING
from fenfa_lib.webhooks import EVENTS, KINDS, MAX_SECRET_LENGTH, MAX_URL_LENGTH

EVENT_TYPE = query("type", "event type", {"type": "string", "enum": list(EVENT_TYPES)})
EVENT_FILTERS = [EVENT_TYPE, *(query(name, f"only events of this {name.removesuffix('_id')}")
                               for name in ("product_id", "variant_id", "release_id")), *TIME_RANGE]
DEVICE_FILTERS = [query("variant_id", "only devices bound to this variant"),
                  query("q", "part of the UDID, name, model or serial"), *TIME_RANGE]
RELEASE_FILTERS = [query("product_id", "only releases of this product"),
                   query("variant_id", "only releases of this variant"),
                   query("platform", "only releases for this platform", {"type": "string", "enum": list(EXTENSIONS)}),
                   *(query(name, f"only releases of this {name}", text(FORM_LIMITS[name]))
                     for name in ("version", "build", "channel")),
                   query("git_commit", "only releases of commits that start with this (7 to 64 hex characters)",
                         text(64, pattern="^[0-9a-fA-F]{7,64}$")),
                   query("sha256", "only releases of this file", text(64, pattern="^[0-9a-fA-F]{64}$")),
                   *TIME_RANGE]


def upload_form(variant_required):
    fields = {name: text(limit) for name, limit in FORM_LIMITS.items()}
    fields["build"] = text(FORM_LIMITS["build"], pattern=f"^[0-9]{{0,{FORM_LIMITS['build']}}}$",
                           description="a non-negative integer")
    fields["branch"]["description"] = "CI: the branch the build is of"
    fields["git_commit"] = text(FORM_LIMITS["git_commit"], pattern="^([0-9a-fA-F]{7,64})?$",
                                description="CI: the commit, 7 to 64 hex characters (stored in lower case)")
    fields["ci_url"] = text(FORM_LIMITS["ci_url"], pattern="^https?://[^\\s]+$",
                            description="CI: the http(s) URL of the job that built it")
    fields["source"]["description"] = "CI: what sent it, e.g. github-actions"
    fields["skip_duplicate"] = {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false",
                                "description": "true: a file the variant already has a release of is answered "
                                               "with that release (200, duplicate true) and nothing is stored"}
    schema = {
        "type": "object",
        "required": ["app_file", "variant_id"] if variant_required else ["app_file"],
        "properties": {
            "variant_id": {"type": "string", "description": "the variant the build belongs to"
                           + ("" if variant_required else "; found or created from the package when left out")},
            "app_file": {"type": "string", "format": "binary", "description": "the build, named with its extension"},
            **fields,
        },
    }
    return {"required": True, "content": {"multipart/form-data": {
        "schema": schema, "encoding": {"app_file": {"contentType": "application/octet-stream"}}}}}


def upload_query():
    """The fields of the upload form as the query parameters of a raw-body upload."""
    form = upload_form(True)["content"]["multipart/form-data"]["schema"]
    return [query(name, schema.get("description", f"as the form's {name} field"), schema,
                  required=name in form["required"])
            for name, schema in form["properties"].items() if name != "app_file"]


RAW_UPLOAD_BODY = {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary", "description": "the build, as is"}}}}


DUPLICATE = {"200": {"description": "skip_duplicate and a file the variant already has: that release, nothing stored",
                     "content": {"application/json": {"schema": envelope(ref("UploadAnswer"))}}}}
BUILD_TYPES = sorted(set(CONTENT_TYPES.values()) | {"application/octet-stream"})
DELETED = ref("Deleted")
PRODUCT = path_param("product_id")
VARIANT = path_param("variant_id")
RELEASE = path_param("release_id")
APP = path_param("app_id", "a variant ID (`var_…`), or a product ID (`prd_…`) for the whole product")
DEVICE = path_param("device_id")
SLUG = path_param("slug", "the product's slug")
PUBLIC_RELEASE = "a published release of a published variant and product"
PLATFORM = {"type": "string", "enum": list(EXTENSIONS)}
CHANNEL = query("channel", "only releases of this channel", text(FORM_LIMITS["channel"]))
UPDATE_CHECK_PARAMS = [
    query("variant", "a published variant (`var_…`); or give product and platform", text(MAX_ID_LENGTH)),
    query("product", "a published product's slug, with platform", text(MAX_SLUG_LENGTH)),
    query("platform", "the platform of the product's variants (with variant: it must be the variant's)", PLATFORM),
    query("version", "the version the caller runs (version or build is required)", text(FORM_LIMITS["version"])),
    query("build", "the build the caller runs, e.g. 41 or 1.2.3.4", text(FORM_LIMITS["version"])),
    CHANNEL,
]
UPDATE_CHECK = {"type": "object", "required": ["update_available", "latest"], "properties": {
    "update_available": {"type": "boolean"},
    "latest": {"oneOf": [{"type": "null"}, {"allOf": [ref("Release"), {
        "type": "object", "required": ["download_url", "page_url"], "properties": {
            "download_url": {"type": "string"}, "page_url": {"type": "string"},
            "ios_install_url": {"type": "string", "description": "iOS releases only"}}}]}]}}}
LATEST_LINK_ARGS = [query("variant", "only this variant of the product", text(MAX_ID_LENGTH)), CHANNEL]
HIGHEST = ("The highest release by version, then build, then upload time (see /api/update-check), never an "
           ".aab; device verdicts such as an expired profile are the product page's business, not the link's.")

RELEASE_SUMMARY = {"type": "object", "required": ["id", "version", "build", "file_name", "created_at"],
                   "properties": {"id": {"type": "string"}, "version": {"type": "string"}, "build": {"type": "string"},
                                  "file_name": {"type": "string"}, "created_at": MOMENT}}
RELEASE_DIFF = {"type": "object", "required": ["from", "to", "changes", "added", "removed", "warnings"], "properties": {
    "from": RELEASE_SUMMARY, "to": RELEASE_SUMMARY,
    "changes": {"type": "array", "items": {"type": "object", "required": ["field", "before", "after"], "properties": {
        "field": {"type": "string", "enum": ["version", "build", "size_bytes", "min_os", "target_os", "profile_type",
                                             "profile_expires_at", "signer_sha256", "entitlements"]},
        "before": {}, "after": {},
        "delta": {"type": "integer", "description": "size_bytes: after minus before"},
        "key": {"type": "string", "description": "entitlements: the entitlement whose value changed"}}}},
    "added": {"type": "object", "description": "per field (permissions, native_abis, devices, entitlements…), "
                                               "what the newer release has and the older has not; only fields "
                                               "with some"},
    "removed": {"type": "object", "description": "the same, what the newer release no longer has"},
    "warnings": {"type": "array", "items": {"type": "string"}, "description": "sentences: a changed Android "
                 "signer, a raised minimum OS, a changed profile type, devices left out of the profile, a profile "
                 "expired or expiring within 14 days"}}}
ACCESS_TOKEN = query("t", "a protected product's share link token, or the install token of this release (an hour: "
                          "iOS fetches manifests, builds and icons without the browser's cookies)")
LINK_TOKEN = query("t", "a protected product's share link token")
PROTECTED = {"401": {"description": f"a protected product (access {' or '.join(ACCESS_LEVELS[1:])}) without its "
                                    "access cookie, a token `t` that opens it, or an admin",
                     "content": {"application/json": {"schema": ref("ErrorEnvelope")}}}}
LINK = path_param("link_id", "the share link's ID (`lnk_` and 16 hex characters)")
LINK_SHAPE = {"type": "object", "required": ["id", "product_id", "url", "expires_at", "max_downloads",
                                             "download_count", "revoked", "state"], "properties": {
    "id": {"type": "string"}, "product_id": {"type": "string"},
    "url": {"type": "string", "description": "/s/<token>: sets the access cookie and opens the product page"},
    "expires_at": {"type": "string"}, "max_downloads": {"type": ["integer", "null"]},
    "download_count": {"type": "integer", "description": "full downloads made through the link"},
    "revoked": {"type": "boolean"}, "state": {"type": "string", "enum": ["live", "revoked", "expired", "used_up"]},
    "note": {"type": "string"}, "created_at": {"type": "string"}, "revoked_at": {"type": ["string", "null"]}}}
LINK_INPUT = {"type": "object", "additionalProperties": False, "properties": {
    "expires_in_hours": {"type": "integer", "minimum": MIN_LINK_HOURS, "maximum": MAX_LINK_HOURS,
                         "default": DEFAULT_LINK_HOURS},
    "max_downloads": {"type": ["integer", "null"], "minimum": 1, "description": "full downloads allowed; null: any"},
    "note": text(MAX_NOTE_LENGTH)}}
ONE_LINK = {"type": "object", "required": ["link"], "properties": {"link": LINK_SHAPE}}
WEBHOOK = path_param("webhook_id")
WEBHOOK_FIELDS = {
    "url": {"type": "string", "maxLength": MAX_URL_LENGTH, "description": "http(s); not a private address unless "
            "the configuration allows it (webhook_allow_private)"},
    "kind": {"type": "string", "enum": list(KINDS), "default": "generic"},
    "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(EVENTS)}},
    "product_id": {"type": ["string", "null"], "description": "only this product's events; null for every product"},
    "secret": {"type": ["string", "null"], "maxLength": MAX_SECRET_LENGTH, "writeOnly": True,
               "description": "signs generic, Feishu and DingTalk messages; null or empty clears it"},
    "enabled": {"type": "boolean", "default": True},
}
WEBHOOK_INPUT = {"type": "object", "additionalProperties": False, "properties": WEBHOOK_FIELDS}
WEBHOOK_SHAPE = {"type": "object", "required": ["id", "url", "kind", "events", "product_id", "enabled", "has_secret"],
                 "properties": {**{name: schema for name, schema in WEBHOOK_FIELDS.items() if name != "secret"},
                                "id": {"type": "string"}, "has_secret": {"type": "boolean"}}}
DELIVERY_SHAPE = {"type": "object", "required": ["id", "event", "state", "attempt", "status_code", "ok", "error",
                                                 "created_at", "next_attempt_at"], "properties": {
    "id": {"type": "string"}, "event": {"type": "string", "enum": [*EVENTS, PING]},
    "state": {"type": "string", "enum": ["pending", "done", "failed"]}, "attempt": {"type": "integer"},
    "status_code": {"type": ["integer", "null"]}, "ok": {"type": ["boolean", "null"]}, "error": {"type": "string"},
    "created_at": {"type": "string"}, "next_attempt_at": {"type": ["string", "null"]}}}
ONE_WEBHOOK = {"type": "object", "required": ["webhook"], "properties": {"webhook": WEBHOOK_SHAPE}}


PATHS = {
    "/openapi.json": {"get": op(
        "This OpenAPI document (not in the envelope)", "meta", PUBLIC,
        content={"application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}})},
    "/healthz": {"get": op("Database and storage checks", "meta", PUBLIC, ref("Health"), errors=[503])},
    "/fenfa-upload.py": {"get": op("The command-line uploader for CI (Python 3.8+, standard library only)", "meta",
                                   PUBLIC, content={"text/x-python": {"schema": {"type": "string"}}})},
    # Public side.
    "/": {"get": op("The landing page", "pages", PUBLIC, content=HTML, html_errors=True)},
    "/products/{slug}": {"get": op(
        "A product's page for testers", "pages", PUBLIC,
        params=[SLUG, query("r", "show this release of the product"), query("udid_token", "a UDID return token")],
        content=HTML, errors=[404], html_errors=True, more={"401": {
            "description": "a protected product without access: the password form, or for a private product where "
                           "to get in", "content": HTML}})},
    "/products/{slug}/access": {"post": op(
        "The password form of a protected product: the right password sets the access cookie (a week)", "pages",
        PUBLIC, params=[SLUG], status=303, content={}, errors=[404], html_errors=True,
        body={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["password"], "properties": {"password": {"type": "string"}}}}}},
        more={"401": {"description": "a wrong password: the form again", "content": HTML},
              "429": {"description": "ten wrong passwords from this address within a minute: the form, with "
                                     "Retry-After", "content": HTML}})},
    "/s/{token}": {"get": op(
        "A share link: sets the product's access cookie and redirects to its page", "pages", PUBLIC, status=302,
        params=[path_param("token", "the link's token, as in its url")], content={}, errors=[404], html_errors=True,
        more={"410": {"description": "the link expired, was revoked or was used for all its downloads: a page "
                                     "that says which", "content": HTML}})},
    "/products/{slug}/qrcode.svg": {"get": op(
        "QR code of a product's page", "pages", PUBLIC, params=[SLUG, LINK_TOKEN],
        content={"image/svg+xml": {"schema": {"type": "string"}}}, html_errors=True, more=PROTECTED)},
    "/api/products/{slug}": {"get": op("A product's page data (no UDIDs or team IDs)", "public", PUBLIC,
                                       ref("PublicPage"), params=[SLUG, LINK_TOKEN], more=PROTECTED)},
    "/ios/{release_id}/manifest.plist": {"get": op(
        "iOS install manifest (itms-services); its URLs carry the `t` of a protected product", "public", PUBLIC,
        params=[path_param("release_id", PUBLIC_RELEASE), ACCESS_TOKEN], content=file_content("application/xml"),
        more=PROTECTED)},
    "/icons/{release_id}.png": {"get": op(
        "A release's app icon", "public", PUBLIC, params=[path_param("release_id", PUBLIC_RELEASE), ACCESS_TOKEN],
        content=file_content("image/png", "image/webp"),
        more={**PROTECTED, "304": {"description": "the cached copy is current"}})},
    "/events": {"post": op(
        "Record a page's click or visit", "public", PUBLIC, ref("EventCreated"), 201,
        body=json_body(ref("EventInput"), required=True), errors=[429],
        description=f"At most {MAX_EVENT_BYTES} bytes; requests without a token share a per-address budget.")},
    "/d/{release_id}": {"get": op(
        "Download a build (ranges, ETag; a GET from byte 0 counts)", "public", PUBLIC,
        params=[path_param("release_id", PUBLIC_RELEASE), ACCESS_TOKEN,
                param("Range", "header", "one byte range, e.g. bytes=0-1023"),
                param("If-None-Match", "header", "the ETag (the file's SHA-256) of a cached copy")],
        content=file_content(*BUILD_TYPES), errors=[416, 503], more={
            **PROTECTED,
            "206": {"description": "the requested range", "content": file_content(*BUILD_TYPES)},
            "302": {"description": "redirect to the file in S3 (presigned or public URL)"},
            "304": {"description": "the cached copy is current"}})},
    "/api/update-check": {"get": op(
        "Whether a build above the caller's version or build is there to install", "public", PUBLIC, UPDATE_CHECK,
        params=[*UPDATE_CHECK_PARAMS, LINK_TOKEN], errors=[400, 404], more=PROTECTED, description=(
            "`latest` is the highest release (version first, then build, then upload time; a pre-release suffix "
            "such as -beta, rc1 or [BETA] sorts before the plain release) that a device can install from its "
            "link: never an .aab, nor a build whose profile expired or is for the App Store, nor one for another "
            "device; null when there is none. `update_available` compares it with the version and build given, "
            "on the fields both have. Reads only."))},
    "/products/{slug}/latest/{platform}": {"get": op(
        "Redirect to the download of the product's highest build for a platform", "pages", PUBLIC, status=302,
        params=[SLUG, param("platform", "path", "the platform of the build", PLATFORM), *LATEST_LINK_ARGS,
                ACCESS_TOKEN], content={}, errors=[400, 404], description=HIGHEST, html_errors=True, more=PROTECTED)},
    "/products/{slug}/latest/ios/manifest.plist": {"get": op(
        "The itms-services manifest of the product's highest iOS build: one install link for every build",
        "pages", PUBLIC, params=[SLUG, *LATEST_LINK_ARGS, ACCESS_TOKEN], content=file_content("application/xml"),
        errors=[400, 404], description=HIGHEST, html_errors=True, more=PROTECTED)},
    # UDID registration.
    "/udid/profile.mobileconfig": {"get": op(
        "The Profile Service profile that makes iOS post its UDID", "udid", PUBLIC,
        params=[query("variant", "a published iOS variant", required=True), LINK_TOKEN],
        content=file_content(PROFILE_MIMETYPE), errors=[400, 404, 429], more=PROTECTED)},
    "/udid/callback": {"post": op(
        "Where iOS posts the device's attributes; answers 301 to the product page", "udid", PUBLIC,
        params=[query("nonce", "the one-time nonce of the profile")], status=301,
        body={"required": True, "content": file_content("application/pkcs7-signature", "application/xml")},
        content={}, errors=[400, 413])},
    "/udid/status": {"get": op(
        "Whether this browser's device is bound to the variant", "udid", PUBLIC, ref("UdidStatus"),
        params=[query("variant", "a published iOS variant", required=True),
                query("udid_token", "the signed return token")], errors=[400, 404])},
    # Uploads.
    "/upload": {"post": op("Upload a build to a variant", "upload", UPLOAD, ref("UploadAnswer"), 201,
                           body=upload_form(True), errors=[400, 404, 409, 413, 503], more=DUPLICATE)},
    "/upload/{file_name}": {"put": op(
        "Upload a build to a variant, the file as the request body (`curl -T`)", "upload", UPLOAD,
        ref("UploadAnswer"), 201, body=RAW_UPLOAD_BODY, errors=[400, 404, 409, 413, 503], more=DUPLICATE,
        params=[path_param("file_name", "the build's file name, with its extension"), *upload_query()],
        description="The same release and answer as POST /upload; the form's fields are query parameters. The "
                    "body is written to disk once, as it arrives.")},
    "/admin/api/smart-upload": {"post": op(
        "Upload a build; the variant is found by the package's platform and identifier (or created, by an admin)",
        "upload", UPLOAD, ref("UploadAnswer"), 201, body=upload_form(False), errors=[400, 404, 409, 413, 503],
        more=DUPLICATE, description="An upload token uploads into existing variants only: an app no variant has "
                                    "yet is 403, naming the platform and identifier an admin must create.")},
    "/admin/api/parse-app": {"post": op("Parse a package; nothing is stored", "upload", UPLOAD, ref("ParsedApp"),
                                        body=upload_form(False), errors=[400, 413])},
    # Catalog.
    "/admin/api/products": {
        "get": op("List products", "catalog", ADMIN, items_of("ProductListed"),
                  params=[query("q", "part of the name or slug"), *PAGE]),
        "post": op("Create a product (a taken slug gets -2, -3…)", "catalog", ADMIN, wrapped("product", "Product"),
                   201, body=json_body(ref("ProductCreate"), required=True)),
    },
    "/admin/api/products/{product_id}": {
        "get": op("A product with its variants and their releases", "catalog", ADMIN, ref("ProductDetail"),
                  params=[PRODUCT]),
        "put": op("Update a product (a taken slug is refused)", "catalog", ADMIN, wrapped("product", "Product"),
                  params=[PRODUCT], body=json_body(ref("ProductUpdate"))),
        "delete": op("Delete a product, its variants, releases and files", "catalog", ADMIN, DELETED,
                     params=[PRODUCT], errors=[503]),
    },
    "/admin/api/products/{product_id}/variants": {"post": op(
        "Create a variant", "catalog", ADMIN, wrapped("variant", "Variant"), 201, params=[PRODUCT],
        body=json_body(ref("VariantCreate"), required=True))},
    "/admin/api/variants/{variant_id}": {
        "put": op("Update a variant", "catalog", ADMIN, wrapped("variant", "Variant"), params=[VARIANT],
                  body=json_body(ref("VariantUpdate"))),
        "delete": op("Delete a variant, its releases and files", "catalog", ADMIN, DELETED, params=[VARIANT],
                     errors=[503]),
    },
    "/admin/api/variants/{variant_id}/stats": {"get": op("A variant's statistics", "catalog", ADMIN,
                                                         ref("VariantStats"), params=[VARIANT])},
    "/admin/api/releases": {"get": op("List releases, newest first", "catalog", ADMIN, items_of("Release"),
                                      params=[*RELEASE_FILTERS, *PAGE], errors=[400])},
    "/admin/api/releases/{release_id}": {
        "put": op("Change a release's changelog, channel or pin", "catalog", ADMIN, wrapped("release", "Release"),
                  params=[RELEASE], body=json_body(ref("ReleaseUpdate"))),
        "delete": op("Delete a release and its file", "catalog", ADMIN, DELETED, params=[RELEASE], errors=[503]),
    },
    "/admin/api/releases/{release_id}/diff": {"get": op(
        "What changed from another release of the variant to this one", "catalog", ADMIN, RELEASE_DIFF,
        params=[RELEASE, query("against", "the release to compare with (`rel_…`, of the same variant); the "
                                          "previous upload of the variant when left out", text(64))],
        errors=[400], description="A field read from the package (permissions, entitlements, ABIs, signer…) is "
                                  "compared only when both releases have it. 404 when the release is its variant's "
                                  "first and `against` is left out.")},
    "/admin/api/apps/{app_id}/publish": {"put": op("Publish a variant or product", "catalog", ADMIN,
                                                   ref("Published"), params=[APP])},
    "/admin/api/apps/{app_id}/unpublish": {"put": op("Hide a variant or product", "catalog", ADMIN,
                                                     ref("Published"), params=[APP])},
    # Settings.
    "/admin/api/settings": {
        "get": op("The run-time settings (secrets are never shown)", "settings", ADMIN, ref("Settings")),
        "put": op("Change settings (null clears a field)", "settings", ADMIN, ref("Settings"),
                  body=json_body(ref("SettingsUpdate"))),
    },
    "/admin/api/upload-config": {"get": op("Upload limits and domain, for CI", "settings", ADMIN,
                                           ref("UploadConfig"))},
    # Lists and exports.
    "/admin/api/events": {"get": op("List events", "records", ADMIN, items_of("Event"),
                                    params=[*EVENT_FILTERS, *PAGE], errors=[400])},
    "/admin/api/ios_devices": {"get": op("List iOS devices", "records", ADMIN, items_of("Device"),
                                         params=[*DEVICE_FILTERS, *PAGE], errors=[400])},
    "/admin/exports/releases.csv": {"get": op("Releases as CSV", "records", ADMIN, params=RELEASE_FILTERS,
                                              content=file_content("text/csv"), errors=[400])},
    "/admin/exports/events.csv": {"get": op("Events as CSV", "records", ADMIN, params=EVENT_FILTERS,
                                            content=file_content("text/csv"), errors=[400])},
    "/admin/exports/ios_devices.csv": {"get": op("iOS devices as CSV", "records", ADMIN, params=DEVICE_FILTERS,
                                                 content=file_content("text/csv"), errors=[400])},
    # Apple Developer API.
    "/admin/api/apple/status": {"get": op("Whether the Apple Developer API is configured and answers", "apple",
                                          ADMIN, ref("AppleStatus"))},
    "/admin/api/apple/devices": {"get": op("The Apple account's devices", "apple", ADMIN,
                                           {"type": "object", "required": ["items", "total"]}, errors=[400, 502])},
    "/admin/api/devices/{device_id}/register-apple": {"post": op(
        "Register one bound device with Apple", "apple", ADMIN, ref("Registration"), params=[DEVICE],
        errors=[400, 502])},
    "/admin/api/devices/register-apple": {"post": op(
        "Register devices with Apple (all unregistered ones without device_ids)", "apple", ADMIN,
        ref("RegistrationBatch"), body=json_body(ref("RegisterDevices")), errors=[502])},
    # Share links.
    "/admin/api/products/{product_id}/links": {
        "get": op("A product's share links, newest first", "links", ADMIN, listed(LINK_SHAPE), params=[PRODUCT, *PAGE]),
        "post": op("Make a share link of a product", "links", ADMIN, ONE_LINK, 201, params=[PRODUCT],
                   body=json_body(LINK_INPUT)),
    },
    "/admin/api/links/{link_id}": {"delete": op(
        "Revoke a share link at once (it stays listed, revoked; its cookies and install tokens stop working)",
        "links", ADMIN, {"type": "object", "required": ["deleted", "link"], "properties": {
            "deleted": {"type": "string"}, "link": LINK_SHAPE}}, params=[LINK])},
    # Webhooks.
    "/admin/api/webhooks": {
        "get": op("List webhooks (secrets are never shown)", "webhooks", ADMIN, listed(WEBHOOK_SHAPE), params=PAGE),
        "post": op("Create a webhook", "webhooks", ADMIN, ONE_WEBHOOK, 201,
                   body=json_body({**WEBHOOK_INPUT, "required": ["url", "events"]}, required=True)),
    },
    "/admin/api/webhooks/{webhook_id}": {
        "get": op("A webhook", "webhooks", ADMIN, ONE_WEBHOOK, params=[WEBHOOK]),
        "put": op("Change a webhook (any of its fields)", "webhooks", ADMIN, ONE_WEBHOOK, params=[WEBHOOK],
                  body=json_body(WEBHOOK_INPUT)),
        "delete": op("Delete a webhook and its deliveries", "webhooks", ADMIN, DELETED, params=[WEBHOOK]),
    },
    "/admin/api/webhooks/{webhook_id}/test": {"post": op(
        "Send a ping now (once, enabled or not) and answer the delivery", "webhooks", ADMIN,
        {"type": "object", "required": ["delivery"], "properties": {"delivery": DELIVERY_SHAPE}}, params=[WEBHOOK])},
    "/admin/api/webhooks/{webhook_id}/deliveries": {"get": op(
        "A webhook's deliveries, newest first", "webhooks", ADMIN, listed(DELIVERY_SHAPE), params=[WEBHOOK, *PAGE])},
    **ACCESS_PATHS,
}
