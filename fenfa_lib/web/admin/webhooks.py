"""Admin API for webhooks: create, list, change and delete them, send a test message, and list deliveries."""
from flask import Blueprint, current_app, has_request_context

from fenfa_lib import webhooks
from fenfa_lib.models import Webhook, WebhookDelivery
from fenfa_lib.web import urls, validate
from fenfa_lib.web.admin.catalog import read_fields
from fenfa_lib.web.auth import require_admin
from fenfa_lib.web.envelope import ok
from fenfa_lib.web.shapes import delivery_dict, webhook_dict
from fenfa_lib.web.validate import get_or_404
from fenfa_lib.webhook_delivery import deliver

bp = Blueprint("admin_webhooks", __name__, url_prefix="/admin/api")
require_admin(bp)
MAX_KIND_LENGTH = 16
MAX_ID_LENGTH = 64


def event_links(event, product, variant, release):
    """The public URLs of an event: a new release's page, download and install links; else the product's page."""
    if not has_request_context():
        return {}
    if event == "release.created":
        return urls.release_links(release, variant, product.slug)
    return {"page": urls.page_url(product.slug)}


bp.record_once(lambda _state: webhooks.install_public_links(event_links))


def allow_private():
    return current_app.config["FENFA"]["webhook_allow_private"]


def webhook_fields(body, creating):
    """The body's webhook fields, their types checked (the rules are in fenfa_lib/webhooks.py): all of them when
    creating, with their defaults, else only those in `body`."""
    readers = {
        "url": lambda: validate.text(body, "url", required=True, max_length=webhooks.MAX_URL_LENGTH),
        "kind": lambda: validate.text(body, "kind", max_length=MAX_KIND_LENGTH, default="generic"),
        "events": lambda: body.get("events"),
        "product_id": lambda: validate.text(body, "product_id", max_length=MAX_ID_LENGTH) or None,
        "secret": lambda: validate.text(body, "secret", max_length=webhooks.MAX_SECRET_LENGTH, default=""),
        "enabled": lambda: validate.boolean(body, "enabled", default=True),
    }
    return read_fields(body, readers, creating)


@bp.get("/webhooks")
def list_webhooks():
    return ok(validate.paginate(Webhook.select().order_by(Webhook.created_at.desc(), Webhook.id), webhook_dict))


@bp.post("/webhooks")
def create_webhook():
    fields = webhook_fields(validate.json_object(), creating=True)
    return ok({"webhook": webhook_dict(webhooks.create_webhook(fields, allow_private()))}, 201)


@bp.get("/webhooks/<webhook_id>")
def get_webhook(webhook_id):
    return ok({"webhook": webhook_dict(get_or_404(Webhook, webhook_id, "webhook"))})


@bp.put("/webhooks/<webhook_id>")
def update_webhook(webhook_id):
    webhook = get_or_404(Webhook, webhook_id, "webhook")
    changes = webhook_fields(validate.json_object(), creating=False)
    return ok({"webhook": webhook_dict(webhooks.update_webhook(webhook, changes, allow_private()))})


@bp.delete("/webhooks/<webhook_id>")
def delete_webhook(webhook_id):
    return ok({"deleted": webhooks.delete_webhook(get_or_404(Webhook, webhook_id, "webhook"))})


@bp.post("/webhooks/<webhook_id>/test")
def test_webhook(webhook_id):
    """Send a ping now, whether or not the webhook is enabled, and answer how it went (tried once)."""
    ping = webhooks.create_ping(get_or_404(Webhook, webhook_id, "webhook"))
    return ok({"delivery": delivery_dict(deliver(ping, allow_private()))})


@bp.get("/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id):
    webhook = get_or_404(Webhook, webhook_id, "webhook")
    deliveries = (WebhookDelivery.select().where(WebhookDelivery.webhook == webhook)
                  .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()))
    return ok(validate.paginate(deliveries, delivery_dict))
