"""Peewee models on one database, SQLite or PostgreSQL, bound by the app factory (`schema.open_database`)."""
import json
from datetime import UTC, datetime

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DatabaseProxy,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from fenfa_lib.config import DEFAULT_PRESIGN_SECONDS

db = DatabaseProxy()  # the one database object the models use: a pool of dialect.make_database's


def utcnow():
    """Naive UTC timestamp: SQLite stores it as sortable text, PostgreSQL as a TIMESTAMP; `iso()` adds the Z."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(moment):
    """An aware datetime as the naive UTC value the database stores."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def iso(moment):
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


class JSONField(TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db


class Product(BaseModel):
    id = CharField(primary_key=True)
    name = CharField()
    slug = CharField(unique=True)
    description = TextField(default="")
    published = BooleanField(default=True)
    access = CharField(default="public")  # public, password or private
    password_hash = CharField(default="")  # of the `password` access needs; never returned
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class Variant(BaseModel):
    id = CharField(primary_key=True)
    product = ForeignKeyField(Product, backref="variants", on_delete="CASCADE")
    platform = CharField()
    display_name = CharField()
    identifier = CharField(default="")
    arch = CharField(default="")
    installer_type = CharField()
    min_os = CharField(default="")
    sort_order = IntegerField(default=0)
    published = BooleanField(default=True)
    keep_releases = IntegerField(null=True)  # unpinned releases kept after an upload; None keeps them all
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("platform", "identifier"), False),)


class Release(BaseModel):
    id = CharField(primary_key=True)
    variant = ForeignKeyField(Variant, backref="releases", on_delete="CASCADE")
    version = CharField(default="")
    build = CharField(default="")
    channel = CharField(default="")
    changelog = TextField(default="")
    min_os = CharField(default="")
    display_name = CharField(default="")
    identifier = CharField(default="")
    file_name = CharField()
    size_bytes = BigIntegerField()
    sha256 = CharField()
    storage = CharField(default="local")
    storage_key = CharField()
    icon_key = CharField(null=True)
    metadata = JSONField(default=dict)
    download_count = IntegerField(default=0)
    pinned = BooleanField(default=False)  # kept whatever the variant's keep_releases says
    branch = CharField(default="")  # the CI fields: where the build came from
    git_commit = CharField(default="")
    ci_url = CharField(default="")
    source = CharField(default="")
    created_at = DateTimeField(default=utcnow, index=True)


NEWEST_FIRST = (Release.created_at.desc(), Release.id.desc())  # the order releases are listed in


class ProvisioningProfile(BaseModel):
    release = ForeignKeyField(Release, backref="profiles", on_delete="CASCADE", unique=True)
    kind = CharField()
    name = CharField(default="")
    uuid = CharField(default="")
    team_id = CharField(default="")
    team_name = CharField(default="")
    app_id = CharField(default="")
    created_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True)
    devices = JSONField(default=list)
    certificates = JSONField(default=list)


class IOSDevice(BaseModel):
    id = CharField(primary_key=True)
    udid = CharField(unique=True)
    device_name = CharField(default="")
    model = CharField(default="")
    os_version = CharField(default="")
    serial = CharField(default="")
    apple_registered = BooleanField(default=False)
    apple_device_id = CharField(default="")
    created_at = DateTimeField(default=utcnow, index=True)
    last_seen_at = DateTimeField(default=utcnow)


class DeviceBinding(BaseModel):
    id = AutoField()
    device = ForeignKeyField(IOSDevice, backref="bindings", on_delete="CASCADE")
    variant = ForeignKeyField(Variant, backref="bindings", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("device", "variant"), True),)


class UDIDNonce(BaseModel):
    nonce = CharField(primary_key=True)
    variant = ForeignKeyField(Variant, on_delete="CASCADE")
    device = ForeignKeyField(IOSDevice, null=True, on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class Event(BaseModel):
    """Append-only analytics. IDs are plain columns, not foreign keys: history outlives deletes."""

    id = AutoField()
    ts = DateTimeField(default=utcnow, index=True)
    type = CharField(index=True)
    product_id = CharField(default="", index=True)
    variant_id = CharField(default="", index=True)
    release_id = CharField(default="", index=True)
    ip = CharField(default="")
    user_agent = TextField(default="")
    extra = JSONField(default=dict)


class Settings(BaseModel):
    """One row (id 1) of settings admins change at run time."""

    id = IntegerField(primary_key=True, default=1)
    primary_domain = CharField(default="")
    secondary_domains = JSONField(default=list)
    organization = CharField(default="")
    storage_type = CharField(default="local")
    s3_endpoint = CharField(default="")
    s3_region = CharField(default="")
    s3_bucket = CharField(default="")
    s3_access_key = CharField(default="")
    s3_secret_key = CharField(default="")
    s3_public_url = CharField(default="")
    s3_presign_seconds = IntegerField(default=DEFAULT_PRESIGN_SECONDS)
    s3_path_style = BooleanField(default=True)
    upload_domain = CharField(default="")
    apple_key_id = CharField(default="")
    apple_issuer_id = CharField(default="")
    apple_private_key = TextField(default="")
    apple_team_id = CharField(default="")
    events_retention_days = IntegerField(null=True)  # None keeps events forever
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def load(cls):
        """The row, read only: open_database made sure it exists, so no response needs the write lock."""
        return cls.get_by_id(1)


class AdminSession(BaseModel):
    """A signed-in admin browser. The session cookie names it; signing out deletes it, so a copy of the
    cookie stops working. `token_fingerprint` ties it to the admin token it was started with."""

    id = CharField(primary_key=True)
    token_fingerprint = CharField()
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)


class Webhook(BaseModel):
    """A URL told of the `events` of one product (or of every product, `product_id` None), in the message
    format of its `kind`."""

    id = CharField(primary_key=True)
    url = TextField()
    kind = CharField(default="generic")
    events = JSONField(default=list)
    product_id = CharField(null=True)
    secret = CharField(default="")
    enabled = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class WebhookDelivery(BaseModel):
    """One message to one webhook: written in the transaction of the change it reports (the outbox), then sent
    by the delivery worker; `state` is pending until a 2xx (done) or the last retry (failed)."""

    id = CharField(primary_key=True)
    webhook = ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    event = CharField()
    payload = JSONField(default=dict)
    state = CharField(default="pending")
    attempt = IntegerField(default=0)
    status_code = IntegerField(null=True)
    ok = BooleanField(null=True)
    error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    next_attempt_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("state", "next_attempt_at"), False),)


class ShareLink(BaseModel):
    """A link that lets its holder into a protected product until it expires, is revoked or has been used for
    `max_downloads` full downloads."""

    id = CharField(primary_key=True)
    product = ForeignKeyField(Product, backref="links", on_delete="CASCADE")
    expires_at = DateTimeField()
    max_downloads = IntegerField(null=True)
    download_count = IntegerField(default=0)
    note = CharField(default="")
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)


class ApiToken(BaseModel):
    """A named token an admin made: `scope` upload or admin, optionally one product's. Only a hash of its
    secret is kept."""

    id = CharField(primary_key=True)
    name = CharField()
    scope = CharField()
    product = ForeignKeyField(Product, null=True, on_delete="CASCADE")
    secret_hash = CharField(unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)


class AuditEntry(BaseModel):
    """One admin write or sign-in: who (`actor`), what (`action`), on which ID, from which address."""

    id = AutoField()
    ts = DateTimeField(default=utcnow, index=True)
    actor = CharField()
    action = CharField(index=True)
    target_id = CharField(default="", index=True)
    ip = CharField(default="")


class ServerSecret(BaseModel):
    """The one random key that signs sessions and UDID return links when `secret_key` is not configured: the
    first server to start on the database creates it, every later one reads it."""

    id = IntegerField(primary_key=True)
    value = CharField()
    created_at = DateTimeField(default=utcnow)


class AddressCount(BaseModel):
    """How often an address did one `kind` of thing (an anonymous write, a failed sign-in) in the window that
    began at `window_start`, and until when it is locked out (both Unix seconds): the per-address budgets and
    lockouts, shared by every server on the database."""

    kind = CharField()
    address = CharField()
    count = IntegerField(default=0)
    window_start = DoubleField()
    locked_until = DoubleField(default=0)

    class Meta:
        primary_key = CompositeKey("kind", "address")


class JobRun(BaseModel):
    """When a periodic job (pruning old events) last ran on any server of the database."""

    name = CharField(primary_key=True)
    last_run_at = DateTimeField()
