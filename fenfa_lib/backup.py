"""`python fenfa.py backup FILE.tar` and `restore FILE.tar`: the database (through SQLite's backup API, so a
running server keeps serving), the local build files and tokens.json in one tar file (the server secret is in the
database). For the data
dir's SQLite file only: a PostgreSQL database is backed up with its own tools."""
import os
import posixpath
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fenfa_lib.config import DATABASE_FILE, SECRET_FILE, TOKENS_FILE, ConfigError

UPLOADS = "uploads"
KEY_FILES = (TOKENS_FILE,)
RESTORED_FILES = (DATABASE_FILE, TOKENS_FILE, SECRET_FILE)  # backups from before schema 7 hold secret.key


@dataclass
class BackupSummary:
    releases: int = 0
    files: int = 0
    bytes: int = 0
    dropped: int = 0  # releases deleted while the backup ran, left out of it
    in_s3: int = 0  # releases whose files live in the S3 bucket, not in the backup

    def describe(self, target):
        lines = [f"wrote {target}: the database, {self.releases} local releases ({self.files} files, "
                 f"{self.bytes} bytes), {', '.join(KEY_FILES)}"]
        if self.in_s3:
            lines.append(f"{self.in_s3} releases stored in S3 stay in their bucket and are not in the backup")
        if self.dropped:
            lines.append(f"{self.dropped} releases deleted while the backup ran are left out")
        return "\n".join(lines)


def check_backed_up_database(config):
    """ConfigError unless the configured database is the data dir's SQLite file, the one backups hold."""
    url = config["database_url"]
    if url.startswith("postgresql://"):
        raise ConfigError("backup and restore hold the data dir's SQLite database; database_url names a PostgreSQL "
                          "database: back it up with pg_dump (and restore it with pg_restore), and the release "
                          "files with the data dir or the S3 bucket")
    if url != f"sqlite:///{config['data_dir'] / DATABASE_FILE}":
        raise ConfigError(f"backup and restore hold the data dir's {DATABASE_FILE}; database_url names another "
                          "SQLite file: copy that one with the sqlite3 command's .backup")


def backup(data_dir, target):
    """Write the backup of `data_dir` to `target` (through a temporary file: never a half-written tar)."""
    database = data_dir / DATABASE_FILE
    if not database.is_file():
        raise ConfigError(f"{database} does not exist: nothing to back up")
    target = Path(target).absolute()
    summary = BackupSummary()
    with tempfile.TemporaryDirectory(dir=data_dir / "tmp" if (data_dir / "tmp").is_dir() else None) as work:
        snapshot = Path(work) / DATABASE_FILE
        copy_database(database, snapshot)
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as stream, tarfile.open(fileobj=stream, mode="w") as archive:
                add_release_files(archive, data_dir, snapshot, summary)
                archive.add(snapshot, DATABASE_FILE)
                for name in KEY_FILES:
                    if (data_dir / name).is_file():
                        archive.add(data_dir / name, name)
            os.replace(partial, target)
        except BaseException:
            os.unlink(partial)
            raise
    return summary


def copy_database(source, target):
    """A consistent copy of the live database, whatever writers do meanwhile."""
    with sqlite3.connect(source.as_uri() + "?mode=ro", uri=True) as live, sqlite3.connect(target) as copy:
        live.execute("PRAGMA busy_timeout = 5000")
        live.backup(copy)
    live.close()
    copy.close()


def add_release_files(archive, data_dir, snapshot, summary):
    """Archive the folder of every local release in `snapshot`. A release whose files went while the backup
    ran was deleted after the snapshot was taken: its rows leave the snapshot too, so the backup is as if
    the snapshot had been taken a moment later."""
    uploads = data_dir / UPLOADS
    connection = sqlite3.connect(snapshot)
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        rows = connection.execute("SELECT id, storage, storage_key FROM release").fetchall()
        for release_id, storage, storage_key in rows:
            if storage != "local":
                summary.in_s3 += 1
                continue
            folder = posixpath.dirname(storage_key)
            if not (uploads / storage_key).is_file() or not add_folder(archive, uploads, folder, summary):
                connection.execute("DELETE FROM release WHERE id = ?", (release_id,))
                summary.dropped += 1
                continue
            summary.releases += 1
        connection.commit()
    finally:
        connection.close()


def add_folder(archive, uploads, folder, summary):
    """Add a release folder's files; False when the folder was deleted while they were read."""
    try:
        for path in sorted((uploads / folder).iterdir()):
            if path.is_file():
                archive.add(path, f"{UPLOADS}/{folder}/{path.name}")
                summary.files += 1
                summary.bytes += path.stat().st_size
    except FileNotFoundError:
        return False
    return True


def restore(data_dir, source):
    """Fill an empty (or missing) `data_dir` from the backup at `source`; on any failure it is emptied again."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ConfigError(f"data_dir {data_dir} is not empty: restore only into an empty data dir")
    try:
        archive = tarfile.open(source, mode="r")  # noqa: SIM115 - closed by the with-block below
    except (OSError, tarfile.TarError) as exc:
        raise ConfigError(f"{source} is not a readable backup: {exc}") from None
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with archive:
            members = archive.getmembers()
            check_members(source, members)
            archive.extractall(data_dir, members=members, filter="data")
    except BaseException:
        for child in data_dir.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    for path in [data_dir, *data_dir.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return sum(1 for member in members if member.name.startswith(UPLOADS + "/"))


def check_members(source, members):
    """ConfigError unless the tar holds what a backup holds: the database, key files and release files."""
    names = {member.name for member in members}
    if DATABASE_FILE not in names:
        raise ConfigError(f"{source} holds no {DATABASE_FILE}: not a Fenfa backup")
    for member in members:
        parts = PurePosixPath(member.name).parts
        expected = member.name in RESTORED_FILES or (len(parts) > 1 and parts[0] == UPLOADS)
        if not member.isfile() or not expected or ".." in parts or member.name.startswith("/"):
            raise ConfigError(f"{source} holds {member.name!r}, which a Fenfa backup never does")
