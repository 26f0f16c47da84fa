"""The database file: binding the models to it, and the versioned schema (PRAGMA user_version) with the
forward migrations that bring an older file up to date."""
from playhouse.migrate import SqliteMigrator, migrate

from fenfa_lib.config import ConfigError
from fenfa_lib.models import (
    ApiToken,
    AuditEntry,
    DeviceBinding,
    Event,
    IOSDevice,
    Product,
    ProvisioningProfile,
    Release,
    Settings,
    ShareLink,
    UDIDNonce,
    Variant,
    Webhook,
    WebhookDelivery,
    db,
)

SCHEMA_1_MODELS = [Product, Variant, Release, ProvisioningProfile, IOSDevice, DeviceBinding, UDIDNonce, Event,
                   Settings]


SCHEMA_VERSION = 6  # PRAGMA user_version of a database this code made or upgraded
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
    database made by a newer Fenfa, whose tables this code would misread. Foreign keys are off meanwhile, as
    SQLite prescribes for schema changes: adding a NOT NULL column rebuilds the table, and dropping the old copy
    would otherwise cascade to every row that refers to it. Each migration ends with the keys checked."""
    db.pragma("foreign_keys", 0)
    try:
        for target in range(1, SCHEMA_VERSION + 1):
            with db.atomic("IMMEDIATE"):  # a second process starting at once waits, then sees the new version
                version = db.pragma("user_version")
                if version > SCHEMA_VERSION:
                    raise ConfigError(f"the database {db.database} has schema version {version}, newer than this "
                                      f"Fenfa's {SCHEMA_VERSION}: run a newer Fenfa, or restore a backup")
                if version < target:
                    MIGRATIONS[target]()
                    check_foreign_keys()
                    db.pragma("user_version", target)
    finally:
        db.pragma("foreign_keys", 1)


def check_foreign_keys():
    broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise ConfigError(f"the database {db.database} has {len(broken)} rows whose references are broken "
                          f"(first in table {broken[0][0]}): restore a backup")


def migrate_to_1():
    """Schema 1, the first with a version: create the tables, and give a database made before versions the
    columns added since it was made (with their defaults). A column added in a later schema is added here
    too, so a later migration adds its columns only where they are missing."""
    add_missing_columns(SCHEMA_1_MODELS)
    db.create_tables(SCHEMA_1_MODELS, safe=True)


def add_missing_columns(models):
    """Give the existing tables of `models` the columns they lack, with their defaults."""
    migrator = SqliteMigrator(db)
    for model in models:
        if not db.table_exists(model._meta.table_name):
            continue
        existing = {column.name for column in db.get_columns(model._meta.table_name)}
        missing = [field for field in model._meta.sorted_fields if field.column_name not in existing]
        if missing:
            migrate(*(migrator.add_column(model._meta.table_name, field.column_name, field) for field in missing))


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
    create_revision_triggers()


def create_revision_triggers():
    """(Re)create the triggers that bump the catalog revision, over the revised tables' columns as they are now:
    a migration that adds a column to one of them runs this again."""
    for table in REVISED_TABLES:
        skipped = UNREVISED_COLUMNS.get(table, ())
        columns = ", ".join(f'"{column.name}"' for column in db.get_columns(table) if column.name not in skipped)
        events = {"insert": "INSERT", "update": f"UPDATE OF {columns}", "delete": "DELETE"}
        for name, event in events.items():
            db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_{name}_revision"')
            db.execute_sql(f'CREATE TRIGGER "{table}_{name}_revision" AFTER {event} ON "{table}" '
                           'BEGIN UPDATE "catalogrevision" SET "value" = "value" + 1; END')


def migrate_to_5():
    """Schema 5, the CI lifecycle: releases' CI fields and pins, how many releases a variant keeps, how long
    events are kept, and webhooks with their outbox of deliveries."""
    add_missing_columns([Release, Variant, Settings])
    db.create_tables([Webhook, WebhookDelivery], safe=True)
    create_revision_triggers()


def migrate_to_6():
    """Schema 6, access control: products' access and password, share links, named tokens and the audit log."""
    add_missing_columns([Product])
    db.create_tables([ShareLink, ApiToken, AuditEntry], safe=True)
    create_revision_triggers()


# schema version -> the function that brings the one before it there
MIGRATIONS = {1: migrate_to_1, 2: migrate_to_2, 3: migrate_to_3, 4: migrate_to_4, 5: migrate_to_5, 6: migrate_to_6}
