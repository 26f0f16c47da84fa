"""Rows to JSON-ready dicts, in the shapes the original server's clients expect."""
from fenfa_lib.models import iso
from fenfa_lib.web import urls


def product_dict(product, variant_count=None):
    data = {
        "id": product.id,
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "published": product.published,
        "access": product.access,
        "has_password": bool(product.password_hash),
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
    }
    if variant_count is not None:
        data["variant_count"] = variant_count
    return data


def variant_dict(variant):
    return {
        "id": variant.id,
        "product_id": variant.product_id,
        "platform": variant.platform,
        "display_name": variant.display_name,
        "identifier": variant.identifier,
        "arch": variant.arch,
        "installer_type": variant.installer_type,
        "min_os": variant.min_os,
        "sort_order": variant.sort_order,
        "published": variant.published,
        "keep_releases": variant.keep_releases,
        "created_at": iso(variant.created_at),
        "updated_at": iso(variant.updated_at),
    }


def release_dict(release, admin=False):
    data = {
        "id": release.id,
        "variant_id": release.variant_id,
        "version": release.version,
        "build": release.build,
        "channel": release.channel,
        "changelog": release.changelog,
        "min_os": release.min_os,
        "file_name": release.file_name,
        "size_bytes": release.size_bytes,
        "sha256": release.sha256,
        "download_count": release.download_count,
        "icon_url": urls.icon_url(release.id) if release.icon_key else None,
        "created_at": iso(release.created_at),
    }
    if admin:
        data["storage"] = release.storage
        data["pinned"] = release.pinned
        data["ci"] = ci_dict(release)
        profile = next(iter(release.profiles), None)
        data["provisioning_profile"] = profile_dict(profile) if profile else None
        data["metadata"] = release.metadata  # entitlements, signer hashes: for admins only
    return data


def ci_dict(release):
    """Where a build came from, as its CI said at upload ("" for what it did not say). Admins and uploaders see
    it; testers do not (branch names and CI links can say more than a tester needs)."""
    return {"branch": release.branch, "git_commit": release.git_commit, "ci_url": release.ci_url,
            "source": release.source}


def uploaded_release_dict(release):
    """The release as its upload answers it: what a CI step or chat message needs, the profile summed up (an
    upload token sees no device UDIDs)."""
    profile = next(iter(release.profiles), None)
    return {
        **release_dict(release),
        "display_name": release.display_name,
        "identifier": release.identifier,
        "pinned": release.pinned,
        "profile": {"type": profile.kind, "expires_at": iso(profile.expires_at),
                    "device_count": len(profile.devices)} if profile else None,
        "ci": ci_dict(release),
    }


def profile_dict(profile):
    """Admin-only summary of an iOS provisioning profile, device UDIDs included."""
    return {
        "type": profile.kind,
        "name": profile.name,
        "uuid": profile.uuid,
        "team_id": profile.team_id,
        "team_name": profile.team_name,
        "app_id": profile.app_id,
        "created_at": iso(profile.created_at),
        "expires_at": iso(profile.expires_at),
        "device_count": len(profile.devices),
        "devices": profile.devices,
        "certificates": profile.certificates,
    }


def event_dict(event):
    return {
        "id": event.id,
        "ts": iso(event.ts),
        "type": event.type,
        "product_id": event.product_id,
        "variant_id": event.variant_id,
        "release_id": event.release_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "extra": event.extra,
    }


def device_dict(device):
    """An iOS device selected with its `variant_ids` (admin_queries.filtered_devices), those IDs sorted."""
    return {
        "id": device.id,
        "udid": device.udid,
        "device_name": device.device_name,
        "model": device.model,
        "os_version": device.os_version,
        "serial": device.serial,
        "created_at": iso(device.created_at),
        "last_seen_at": iso(device.last_seen_at),
        "apple_registered": device.apple_registered,
        "apple_device_id": device.apple_device_id,
        "variant_ids": sorted(device.variant_ids.split(",")) if device.variant_ids else [],
    }


def webhook_dict(webhook):
    """A webhook without its secret: only whether it has one."""
    return {
        "id": webhook.id,
        "url": webhook.url,
        "kind": webhook.kind,
        "events": webhook.events,
        "product_id": webhook.product_id,
        "enabled": webhook.enabled,
        "has_secret": bool(webhook.secret),
        "created_at": iso(webhook.created_at),
        "updated_at": iso(webhook.updated_at),
    }


def delivery_dict(delivery):
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event": delivery.event,
        "state": delivery.state,
        "attempt": delivery.attempt,
        "status_code": delivery.status_code,
        "ok": delivery.ok,
        "error": delivery.error,
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at),
    }


def link_dict(link, url, state):
    """A share link with its URL and its state (live, revoked, expired or used_up)."""
    return {
        "id": link.id,
        "product_id": link.product_id,
        "url": url,
        "expires_at": iso(link.expires_at),
        "max_downloads": link.max_downloads,
        "download_count": link.download_count,
        "revoked": link.revoked_at is not None,
        "state": state,
        "note": link.note,
        "created_at": iso(link.created_at),
        "revoked_at": iso(link.revoked_at),
    }


def token_dict(token):
    """A named token without its secret, which no row keeps."""
    return {
        "id": token.id,
        "name": token.name,
        "scope": token.scope,
        "product_id": token.product_id,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
    }


def audit_entry_dict(entry):
    return {
        "id": entry.id,
        "ts": iso(entry.ts),
        "actor": entry.actor,
        "action": entry.action,
        "target_id": entry.target_id,
        "ip": entry.ip,
    }
