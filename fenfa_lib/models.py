"""Peewee models on one SQLite database, bound by the app factory (`open_database`)."""
import json
from datetime import UTC, datetime

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.migrate import SqliteMigrator, migrate
from playhouse.pool import PooledSqliteDatabase

from fenfa_lib.config import DEFAULT_PRESIGN_SECONDS, ConfigError

IDLE_CONNECTION_SECONDS = 300
# Pooled: a request borrows an open connection instead of opening the file and setting its pragmas again (a
# third of what a small request cost). No cap: waitress's threads bound how many are in use at once.
db = PooledSqliteDatabase(None, max_connections=None, stale_timeout=IDLE_CONNECTION_SECONDS)


def utcnow():
    """Naive UTC timestamp: SQLite stores it as sortable text, `iso()` adds the Z."""
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


SCHEMA_1_MODELS = [Product, Variant, Release, ProvisioningProfile, IOSDevice, DeviceBinding, UDIDNonce, Event,
                   Settings]


SCHEMA_VERSION = 4  # PRAGMA user_version of a database this code made or upgraded
BUSY_TIMEOUT_MS = 5000  # how long a write waits for another writer before the request answers 503


def open_database(path):
    """Bind the models to the SQLite file at `path`, creating or upgrading its schema."""
    if db.database:
        db.close_all()  # connections to the database bound before: tests build many apps in one process
    db.init(
        str(path),
        pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal", "busy_timeout": BUSY_TIMEOUT_MS},
        check_same_thread=False,  # a pooled connection serves whichever thread borrows it, one at a time
    )
    with db.connection_context():
        upgrade_schema()
        Settings.get_or_create(id=1)
    return db


def upgrade_schema():
    """Apply the forward migrations a database lacks, in order, each in a transaction of its own; refuse a
    database made by a newer Fenfa, whose tables this code would misread."""
    for target in range(1, SCHEMA_VERSION + 1):
        with db.atomic("IMMEDIATE"):  # a second process starting at once waits, then sees the new version
            version = db.pragma("user_version")
            if version > SCHEMA_VERSION:
                raise ConfigError(f"the database {db.database} has schema version {version}, newer than this "
                                  f"Fenfa's {SCHEMA_VERSION}: run a newer Fenfa, or restore a backup")
            if version < target:
                MIGRATIONS[target]()
                db.pragma("user_version", target)


def migrate_to_1():
    """Schema 1, the first with a version: create the tables, and give a database made before versions the
    columns added since it was made (with their defaults). A column added in a later schema is added here
    too, so a later migration adds its columns only where they are missing."""
    migrator = SqliteMigrator(db)
    for model in SCHEMA_1_MODELS:
        if not db.table_exists(model._meta.table_name):
            continue
        existing = {column.name for column in db.get_columns(model._meta.table_name)}
        missing = [field for field in model._meta.sorted_fields if field.column_name not in existing]
        if missing:
            migrate(*(migrator.add_column(model._meta.table_name, field.column_name, field) for field in missing))
    db.create_tables(SCHEMA_1_MODELS, safe=True)


def migrate_to_2():
    """Schema 2: admin browser sessions live on the server."""
    db.execute_sql(
        'CREATE TABLE IF NOT EXISTS "adminsession" ("id" VARCHAR(255) NOT NULL PRIMARY KEY, '
        '"token_fingerprint" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "last_seen_at" DATETIME NOT NULL)')


STATS_INDEXES = {"event_variant_type_ts": ("variant_id", "type", "ts"),
                 "event_product_type_variant": ("product_id", "type", "variant_id")}


def migrate_to_3():
    """Schema 3: the indexes a variant's statistics read (its own events by type and day; its product's page
    visits), so they need not walk every event of the product."""
    for name, columns in STATS_INDEXES.items():
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "event" ({", ".join(columns)})')


# What tester pages are built from. Download counts are left out: every download changes them and no page
# shows them (the JSON reads them fresh).
REVISED_TABLES = ("product", "variant", "release", "provisioningprofile", "settings")
UNREVISED_COLUMNS = {"release": {"download_count"}}


def migrate_to_4():
    """Schema 4: the catalog revision, a counter the database bumps itself (by triggers, so no write path can
    forget it) on every change to what pages are built from; caches in any process on this database compare
    it to the revision they were filled at."""
    db.execute_sql('CREATE TABLE IF NOT EXISTS "catalogrevision" '
                   '("id" INTEGER NOT NULL PRIMARY KEY CHECK ("id" = 1), "value" INTEGER NOT NULL)')
    db.execute_sql('INSERT OR IGNORE INTO "catalogrevision" VALUES (1, 0)')
    for table in REVISED_TABLES:
        skipped = UNREVISED_COLUMNS.get(table, ())
        columns = ", ".join(f'"{column.name}"' for column in db.get_columns(table) if column.name not in skipped)
        events = {"insert": "INSERT", "update": f"UPDATE OF {columns}", "delete": "DELETE"}
        for name, event in events.items():
            db.execute_sql(f'CREATE TRIGGER IF NOT EXISTS "{table}_{name}_revision" AFTER {event} ON "{table}" '
                           'BEGIN UPDATE "catalogrevision" SET "value" = "value" + 1; END')


# schema version -> the function that brings the one before it there
MIGRATIONS = {1: migrate_to_1, 2: migrate_to_2, 3: migrate_to_3, 4: migrate_to_4}
