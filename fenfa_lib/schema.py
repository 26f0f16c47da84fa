"""The database: binding the models to it, and the versioned schema with the forward migrations that bring an
older database up to date, on SQLite and on PostgreSQL alike. SQLite keeps the version in PRAGMA user_version (as
every Fenfa file has since versions began), PostgreSQL in a one-row "schema_version" table."""
from contextlib import contextmanager

from peewee import OperationalError
from playhouse.migrate import SchemaMigrator, migrate

from fenfa_lib.config import ConfigError
from fenfa_lib.dialect import database_label, is_postgresql, make_database, shown_url, write_transaction
from fenfa_lib.models import (
    AddressCount,
    AdminSession,
    ApiToken,
    AuditEntry,
    DeviceBinding,
    Event,
    IOSDevice,
    JobRun,
    Product,
    ProvisioningProfile,
    Release,
    ServerSecret,
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


SCHEMA_VERSION = 7  # the version of a database this code made or upgraded
VERSION_TABLE = "schema_version"  # PostgreSQL's


def open_database(url):
    """Bind the models to the database `url` names, creating or upgrading its schema."""
    if db.obj is not None:
        db.close_all()  # connections to the database bound before: tests build many apps in one process
    db.initialize(make_database(url))
    try:
        db.connect()
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot open the database {shown_url(url)}: {reason}") from None
    try:
        upgrade_schema()
        Settings.get_or_create(id=1)
    finally:
        db.close()
    return db


def upgrade_schema():
    """Apply the forward migrations a database lacks, in order, each in a write transaction of its own (a second
    process starting at once waits, then sees the new version); refuse a database made by a newer Fenfa, whose
    tables this code would misread."""
    with sqlite_foreign_keys_off():
        for target in range(1, SCHEMA_VERSION + 1):
            with write_transaction():
                version = stored_version()
                if version > SCHEMA_VERSION:
                    raise ConfigError(f"the database {database_label()} has schema version {version}, newer than "
                                      f"this Fenfa's {SCHEMA_VERSION}: run a newer Fenfa, or restore a backup")
                if version < target:
                    MIGRATIONS[target]()
                    check_foreign_keys()
                    store_version(target)


@contextmanager
def sqlite_foreign_keys_off():
    """SQLite's foreign keys off for the block, as it prescribes for schema changes: adding a NOT NULL column
    rebuilds the table, and dropping the old copy would otherwise cascade to every row that refers to it (each
    migration ends with the keys checked). PostgreSQL alters tables in place, its keys on."""
    if is_postgresql():
        yield
        return
    db.pragma("foreign_keys", 0)
    try:
        yield
    finally:
        db.pragma("foreign_keys", 1)


def stored_version():
    if not is_postgresql():
        return db.pragma("user_version")
    db.execute_sql(f'CREATE TABLE IF NOT EXISTS "{VERSION_TABLE}" '
                   '("id" INTEGER NOT NULL PRIMARY KEY CHECK ("id" = 1), "value" INTEGER NOT NULL)')
    row = db.execute_sql(f'SELECT "value" FROM "{VERSION_TABLE}"').fetchone()
    return row[0] if row else 0


def store_version(version):
    if not is_postgresql():
        db.pragma("user_version", version)
        return
    db.execute_sql(f'INSERT INTO "{VERSION_TABLE}" VALUES (1, %s) ON CONFLICT ("id") DO UPDATE SET "value" = %s',
                   (version, version))


def check_foreign_keys():
    """SQLite's check of the keys a migration may have broken; PostgreSQL refuses to break them."""
    broken = [] if is_postgresql() else db.execute_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise ConfigError(f"the database {database_label()} has {len(broken)} rows whose references are broken "
                          f"(first in table {broken[0][0]}): restore a backup")


def migrate_to_1():
    """Schema 1, the first with a version: create the tables, and give a database made before versions the
    columns added since it was made (with their defaults). A column added in a later schema is added here
    too, so a later migration adds its columns only where they are missing."""
    add_missing_columns(SCHEMA_1_MODELS)
    db.create_tables(SCHEMA_1_MODELS, safe=True)


def add_missing_columns(models):
    """Give the existing tables of `models` the columns they lack, with their defaults."""
    migrator = SchemaMigrator.from_database(db)
    for model in models:
        if not db.table_exists(model._meta.table_name):
            continue
        existing = {column.name for column in db.get_columns(model._meta.table_name)}
        missing = [field for field in model._meta.sorted_fields if field.column_name not in existing]
        if missing:
            migrate(*(migrator.add_column(model._meta.table_name, field.column_name, field) for field in missing))


def migrate_to_2():
    """Schema 2: admin browser sessions live on the server."""
    db.create_tables([AdminSession], safe=True)


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
BUMP_REVISION = 'UPDATE "catalogrevision" SET "value" = "value" + 1'
BUMP_FUNCTION = "bump_catalog_revision"  # PostgreSQL's triggers call a function


def migrate_to_4():
    """Schema 4: the catalog revision, a counter the database bumps itself (by triggers, so no write path can
    forget it) on every change to what pages are built from; caches in any process on this database compare
    it to the revision they were filled at."""
    db.execute_sql('CREATE TABLE IF NOT EXISTS "catalogrevision" '
                   '("id" INTEGER NOT NULL PRIMARY KEY CHECK ("id" = 1), "value" INTEGER NOT NULL)')
    db.execute_sql('INSERT INTO "catalogrevision" VALUES (1, 0) ON CONFLICT DO NOTHING')
    create_revision_triggers()


def create_revision_triggers():
    """(Re)create the triggers that bump the catalog revision, over the revised tables' columns as they are now:
    a migration that adds a column to one of them runs this again."""
    if is_postgresql():
        db.execute_sql(f'CREATE OR REPLACE FUNCTION "{BUMP_FUNCTION}"() RETURNS trigger LANGUAGE plpgsql AS '
                       f'$$ BEGIN {BUMP_REVISION}; RETURN NULL; END $$')
    for table in REVISED_TABLES:
        skipped = UNREVISED_COLUMNS.get(table, ())
        columns = ", ".join(f'"{column.name}"' for column in db.get_columns(table) if column.name not in skipped)
        events = {"insert": "INSERT", "update": f"UPDATE OF {columns}", "delete": "DELETE"}
        for name, event in events.items():
            trigger = f'"{table}_{name}_revision"'
            if is_postgresql():
                db.execute_sql(f'DROP TRIGGER IF EXISTS {trigger} ON "{table}"')
                db.execute_sql(f'CREATE TRIGGER {trigger} AFTER {event} ON "{table}" FOR EACH ROW '
                               f'EXECUTE FUNCTION "{BUMP_FUNCTION}"()')
            else:
                db.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
                db.execute_sql(f'CREATE TRIGGER {trigger} AFTER {event} ON "{table}" BEGIN {BUMP_REVISION}; END')


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


def migrate_to_7():
    """Schema 7, state every server on one database shares: the server secret, per-address budgets and
    lockouts, and when periodic jobs last ran."""
    db.create_tables([ServerSecret, AddressCount, JobRun], safe=True)


# schema version -> the function that brings the one before it there
MIGRATIONS = {1: migrate_to_1, 2: migrate_to_2, 3: migrate_to_3, 4: migrate_to_4, 5: migrate_to_5, 6: migrate_to_6,
              7: migrate_to_7}
