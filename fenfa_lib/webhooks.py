"""Webhooks: their fields, and the outbox. `enqueue` writes one delivery per enabled webhook that wants an event,
inside the transaction of the change it reports, so a message goes out exactly when the change commits; the
delivery worker (webhook_delivery.py) sends it later, so a receiver never slows the request down."""
from urllib.parse import urlsplit

from fenfa_lib.errors import ApiError
from fenfa_lib.ids import new_id
from fenfa_lib.models import DeviceBinding, Product, Variant, Webhook, WebhookDelivery, iso, utcnow
from fenfa_lib.text import is_single_token
from fenfa_lib.webhook_delivery import PING, is_private, resolved_addresses

KINDS = ("generic", "slack", "discord", "feishu", "dingtalk", "wecom")
EVENTS = ("release.created", "release.deleted", "device.bound", "device.registered")
MAX_URL_LENGTH = 2048
MAX_SECRET_LENGTH = 256
_public_links = None


def install_public_links(builder):
    """Have `builder(event, product, variant, release)` give the public URLs of an event. Only the web layer can
    build them (the base URL may be the host a request came to), so it installs its builder when its webhooks
    blueprint is registered; core used without it (a script) sends events without URLs."""
    global _public_links
    _public_links = builder


def links(event, product, variant, release):
    """The event's public URLs: {} without a product, or without the web layer's builder."""
    if product is None or _public_links is None:
        return {}
    return _public_links(event, product, variant, release)


def check_url(url, allow_private):
    """`url` if it is an http(s) URL a webhook may post to: 400 naming what is wrong, including a host that is
    (or resolves to) a loopback, private or link-local address unless `allow_private`. A name that does not
    resolve yet is accepted: the worker checks again, at every send."""
    if not isinstance(url, str) or not url.strip():
        raise ApiError(400, "url is required")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or not is_single_token(url):
        raise ApiError(400, f"url must be one URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ApiError(400, "url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "url must be an http:// or https:// URL")
    if parts.username is not None or parts.fragment:
        raise ApiError(400, "url must not carry a user name, password or #fragment")
    if allow_private:
        return url
    try:
        addresses = resolved_addresses(parts.hostname, port)
    except OSError:
        return url
    private = [address for address in addresses if is_private(address)]
    if private:
        raise ApiError(400, f"url host {parts.hostname} is the private address {private[0]} "
                            "(the configuration key webhook_allow_private allows it)")
    return url


def check_events(events):
    if not isinstance(events, list) or not events or not all(isinstance(name, str) for name in events):
        raise ApiError(400, f"events must be a non-empty list of: {', '.join(EVENTS)}")
    unknown = [name for name in events if name not in EVENTS]
    if unknown:
        raise ApiError(400, f"events: {unknown[0]} is not one of {', '.join(EVENTS)}")
    return list(dict.fromkeys(events))


def check_fields(fields, allow_private):
    """The webhook `fields` (any of url, kind, events, product_id, secret, enabled; texts already read at the
    web edge), checked and normalised."""
    checked = dict(fields)
    if "url" in fields:
        checked["url"] = check_url(fields["url"], allow_private)
    if "kind" in fields and fields["kind"] not in KINDS:
        raise ApiError(400, f"kind must be one of: {', '.join(KINDS)}")
    if "events" in fields:
        checked["events"] = check_events(fields["events"])
    product_id = fields.get("product_id")
    if product_id is not None and not Product.select().where(Product.id == product_id).exists():
        raise ApiError(400, f"product_id: product {product_id} not found")
    if len(fields.get("secret") or "") > MAX_SECRET_LENGTH:
        raise ApiError(400, f"secret must be at most {MAX_SECRET_LENGTH} characters")
    if "secret" in fields:
        checked["secret"] = fields["secret"] or ""
    return checked


def create_webhook(fields, allow_private):
    for name in ("url", "events"):
        if fields.get(name) is None:
            raise ApiError(400, f"{name} is required")
    return Webhook.create(id=new_id("webhook"), **check_fields(fields, allow_private))


def update_webhook(webhook, changes, allow_private):
    changes = check_fields(changes, allow_private)
    for name, value in changes.items():
        setattr(webhook, name, value)
    webhook.updated_at = utcnow()
    webhook.save(only=[*changes, "updated_at"])
    return webhook


def delete_webhook(webhook):
    """Delete the webhook and (by cascade) its deliveries, sent or not."""
    webhook.delete_instance()
    return webhook.id


def forget_product(product):
    """Delete the webhooks of a product that is being deleted: in its delete's transaction."""
    Webhook.delete().where(Webhook.product_id == product.id).execute()


def product_part(product):
    return {"id": product.id, "name": product.name, "slug": product.slug} if product else None


def variant_part(variant):
    if variant is None:
        return None
    return {"id": variant.id, "product_id": variant.product_id, "platform": variant.platform,
            "display_name": variant.display_name, "identifier": variant.identifier}


def release_part(release):
    if release is None:
        return None
    return {"id": release.id, "variant_id": release.variant_id, "version": release.version, "build": release.build,
            "channel": release.channel, "changelog": release.changelog, "file_name": release.file_name,
            "size_bytes": release.size_bytes, "sha256": release.sha256, "created_at": iso(release.created_at),
            "ci": {"branch": release.branch, "git_commit": release.git_commit, "ci_url": release.ci_url,
                   "source": release.source}}


def device_part(device):
    if device is None:
        return None
    return {"id": device.id, "udid": device.udid, "device_name": device.device_name, "model": device.model,
            "os_version": device.os_version, "apple_registered": device.apple_registered,
            "apple_device_id": device.apple_device_id}


def event_payload(delivery_id, created_at, event, product=None, variant=None, release=None, device=None, urls=None):
    """The generic event JSON, as stored in the outbox and posted to generic webhooks."""
    payload = {"event": event, "id": delivery_id, "created_at": iso(created_at), "product": product_part(product),
               "variant": variant_part(variant), "release": release_part(release), "urls": urls or {}}
    if device is not None:
        payload["device"] = device_part(device)
    return payload


def concerned_products(product, device):
    """The IDs of the products an event concerns: its product's, or (a device registered with Apple, which belongs
    to no product) those of the variants the device is bound to."""
    if product is not None:
        return {product.id}
    if device is None:
        return set()
    bound = Variant.select(Variant.product).join(DeviceBinding).where(DeviceBinding.device == device)
    return {variant.product_id for variant in bound}


def enqueue(event, product, variant=None, release=None, device=None):
    """Write a delivery of `event` for every enabled webhook that wants it, for this product or for all products.
    Call it inside the transaction of the change it reports: the delivery commits, or rolls back, with it."""
    products = concerned_products(product, device)
    webhooks = [webhook for webhook in Webhook.select().where(Webhook.enabled)
                if event in webhook.events and (webhook.product_id is None or webhook.product_id in products)]
    if not webhooks:
        return []
    urls = links(event, product, variant, release)
    now = utcnow()
    deliveries = []
    for webhook in webhooks:
        delivery_id = new_id("delivery")
        payload = event_payload(delivery_id, now, event, product, variant, release, device, urls)
        deliveries.append(WebhookDelivery.create(id=delivery_id, webhook=webhook, event=event, payload=payload,
                                                 created_at=now, next_attempt_at=now))
    return deliveries


def create_ping(webhook):
    """A test delivery for the admin's test button, not yet due: the caller sends it at once."""
    delivery_id, now = new_id("delivery"), utcnow()
    return WebhookDelivery.create(id=delivery_id, webhook=webhook, event=PING, created_at=now, attempt=1,
                                  payload=event_payload(delivery_id, now, PING))
