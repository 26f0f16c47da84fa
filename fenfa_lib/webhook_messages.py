"""The HTTP request a delivery becomes, per webhook kind: the generic event JSON (HMAC-signed with the webhook's
secret), or a Slack, Discord, Feishu, DingTalk or WeCom incoming-webhook message (Feishu and DingTalk signed as
those services define it). Built at send time, from the payload the outbox stored: the services' signatures carry
a timestamp they accept for an hour only."""
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

MAX_CHANGELOG = 500
PLATFORM_NAMES = {"ios": "iOS", "android": "Android", "macos": "macOS", "windows": "Windows", "linux": "Linux"}
SIGNATURE_HEADER = "X-Fenfa-Signature"


@dataclass(frozen=True)
class OutgoingRequest:
    url: str
    body: bytes
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    """What a chat message says of an event: a title, labelled facts, the changelog and the page link."""

    title: str
    facts: list
    changelog: str
    link: str


def shortened(text, limit=MAX_CHANGELOG):
    text = (text or "").strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def version_label(release):
    """`1.2.0 (41)`, or whichever of the two the release has."""
    version, build = release.get("version") or "", release.get("build") or ""
    if version and build:
        return f"{version} ({build})"
    return version or build or "(no version)"


def summarize(payload):
    """The Summary of a stored payload (webhooks.event_payload)."""
    event = payload["event"]
    product, variant, release, device = (payload.get(name) or {} for name in ("product", "variant", "release",
                                                                               "device"))
    app = product.get("name", "")
    platform = PLATFORM_NAMES.get(variant.get("platform"), variant.get("platform", ""))
    link = payload.get("urls", {}).get("page", "")
    facts = [("App", app), ("Platform", platform)]
    if release:
        facts += [("Version", version_label(release)), ("Channel", release.get("channel") or "")]
    if device:
        facts += [("Device", device.get("device_name") or device.get("udid", "")), ("Model", device.get("model", ""))]
    titles = {
        "release.created": f"New build of {app}: {version_label(release)} for {platform}",
        "release.deleted": f"Build deleted from {app}: {version_label(release)} for {platform}",
        "device.bound": f"Device bound to {app} for {platform}: {device.get('device_name') or device.get('udid')}",
        "device.registered": f"Device registered with Apple: {device.get('device_name') or device.get('udid')}",
        "ping": "Fenfa test message: this webhook works",
    }
    changelog = shortened(release.get("changelog")) if event == "release.created" else ""
    return Summary(titles.get(event, event), [(label, value) for label, value in facts if value], changelog, link)


def generic(payload, secret):
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"X-Fenfa-Event": payload["event"], "X-Fenfa-Delivery": payload["id"]}
    if secret:
        headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, headers


def slack_escaped(text):
    """Slack reads &, < and > as markup (`<!channel>` would ping everyone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(summary):
    title = slack_escaped(summary.title)
    lines = [f"*<{summary.link}|{title}>*" if summary.link else f"*{title}*"]
    lines += [f"*{label}:* {slack_escaped(value)}" for label, value in summary.facts]
    if summary.changelog:
        lines.append(slack_escaped(summary.changelog))
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}
    return {"text": summary.title, "blocks": [section]}


def discord(summary):
    embed = {"title": summary.title[:256], "fields": [{"name": label, "value": value[:1024], "inline": True}
                                                      for label, value in summary.facts]}
    if summary.link:
        embed["url"] = summary.link
    if summary.changelog:
        embed["description"] = summary.changelog
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def feishu(summary):
    lines = [[{"tag": "text", "text": f"{label}: {value}"}] for label, value in summary.facts]
    if summary.changelog:
        lines.append([{"tag": "text", "text": summary.changelog}])
    if summary.link:
        lines.append([{"tag": "a", "text": summary.link, "href": summary.link}])
    return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": summary.title, "content": lines}}}}


def markdown_lines(summary):
    lines = [f"- **{label}:** {value}" for label, value in summary.facts]
    if summary.changelog:
        lines += ["", summary.changelog]
    if summary.link:
        lines += ["", f"[{summary.link}]({summary.link})"]
    return lines


def dingtalk(summary):
    text = "\n".join([f"#### {summary.title}", "", *markdown_lines(summary)])
    return {"msgtype": "markdown", "markdown": {"title": summary.title, "text": text}}


def wecom(summary):
    content = "\n".join([f"**{summary.title}**", *markdown_lines(summary)])
    return {"msgtype": "markdown", "markdown": {"content": content}}


def feishu_signature(secret, timestamp):
    """Feishu's custom-bot signature: base64 of an HMAC-SHA256 keyed with "timestamp\\nsecret" over nothing."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_signature(secret, timestamp_ms):
    """DingTalk's custom-robot signature: base64 of an HMAC-SHA256 keyed with the secret over
    "timestamp\\nsecret" (the timestamp in milliseconds)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def with_query(url, **params):
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))


CHAT_FORMATS = {"slack": slack, "discord": discord, "feishu": feishu, "dingtalk": dingtalk, "wecom": wecom}


def outgoing_request(webhook, payload, now=None):
    """The request that delivers `payload` to `webhook`, signed at `now` (seconds since the epoch)."""
    now = time.time() if now is None else now
    if webhook.kind == "generic":
        body, headers = generic(payload, webhook.secret)
        return OutgoingRequest(webhook.url, body, headers)
    message = CHAT_FORMATS[webhook.kind](summarize(payload))
    url = webhook.url
    if webhook.secret and webhook.kind == "feishu":
        timestamp = str(int(now))
        message = {"timestamp": timestamp, "sign": feishu_signature(webhook.secret, timestamp), **message}
    elif webhook.secret and webhook.kind == "dingtalk":
        timestamp_ms = int(now * 1000)
        url = with_query(url, timestamp=timestamp_ms, sign=dingtalk_signature(webhook.secret, timestamp_ms))
    return OutgoingRequest(url, json.dumps(message, ensure_ascii=False).encode())


def refusal_in_answer(kind, answer):
    """The refusal a chat service put in a 2xx answer ("" when none): Feishu answers `code`/`msg`, DingTalk
    and WeCom `errcode`/`errmsg`, non-zero on failure."""
    if kind not in ("feishu", "dingtalk", "wecom"):
        return ""
    try:
        body = json.loads(answer)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    code = body.get("code", body.get("errcode", body.get("StatusCode", 0)))
    if not code:
        return ""
    return f"{kind} refused the message: {code} {body.get('msg') or body.get('errmsg') or ''}".strip()
