"""Registering the iOS devices testers bound (UDID binding) with the team's Apple Developer account."""
import logging

from fenfa_lib import webhooks
from fenfa_lib.apple import AppleError, AppStoreConnect, Credentials, missing_settings
from fenfa_lib.errors import ApiError
from fenfa_lib.models import IOSDevice, db

log = logging.getLogger("fenfa")
MAX_APPLE_NAME_LENGTH = 50  # Apple refuses longer device names


def not_configured(missing):
    """What to tell an admin while credential settings are `missing`."""
    return f"the Apple Developer API is not configured: set {', '.join(missing)} in the settings"


def apple_client(settings, api_url):
    """The App Store Connect client for the saved credentials; 400 naming the settings still missing."""
    missing = missing_settings(settings)
    if missing:
        raise ApiError(400, not_configured(missing))
    credentials = Credentials(settings.apple_key_id, settings.apple_issuer_id, settings.apple_private_key)
    return AppStoreConnect(api_url, credentials)


def apple_name(device):
    """The name Apple shows: the device's own, else its model and the last digits of its UDID."""
    name = device.device_name or f"{device.model or 'iOS device'} {device.udid[-6:]}"
    return name[:MAX_APPLE_NAME_LENGTH]


def register_with_apple(device, client):
    """Register one device with Apple and remember Apple's ID for it: the moment a device becomes
    installable for new builds. Raises AppleError when Apple refuses."""
    registered = client.register_device(apple_name(device), device.udid)
    newly_registered = not device.apple_registered
    device.apple_registered = True
    device.apple_device_id = registered["apple_device_id"]
    with db.atomic():
        device.save(only=[IOSDevice.apple_registered, IOSDevice.apple_device_id])
        if newly_registered:
            webhooks.enqueue("device.registered", None, device=device)
    log.info("device registered with Apple: %s (%s) is %s", device.id, device.udid, device.apple_device_id,
             extra={"fields": {"event": "device.registered", "device_id": device.id,
                               "apple_device_id": device.apple_device_id}})
    return device


def registration_result(device_id, device=None, error=None):
    """One device's line in a registration answer: Apple's ID on success, the reason otherwise."""
    registered = device is not None and error is None
    return {
        "device_id": device_id,
        "udid": device.udid if device else None,
        "ok": registered,
        "apple_device_id": device.apple_device_id if registered else None,
        "error": error,
    }


def register_many(device_ids, client):
    """Register the devices named (all unregistered ones when `device_ids` is None), each on its own: one
    refusal does not stop the others. {success_count, fail_count, results}."""
    if device_ids is None:
        devices = list(IOSDevice.select().where(~IOSDevice.apple_registered).order_by(IOSDevice.created_at))
        targets = [(device.id, device) for device in devices]
    else:
        known = {device.id: device for device in IOSDevice.select().where(IOSDevice.id.in_(device_ids))}
        targets = [(device_id, known.get(device_id)) for device_id in device_ids]
    results = []
    for device_id, device in targets:
        if device is None:
            results.append(registration_result(device_id, error=f"device {device_id} not found"))
            continue
        try:
            results.append(registration_result(device_id, register_with_apple(device, client)))
        except AppleError as exc:
            results.append(registration_result(device_id, device, error=str(exc)))
    successes = sum(result["ok"] for result in results)
    return {"success_count": successes, "fail_count": len(results) - successes, "results": results}
