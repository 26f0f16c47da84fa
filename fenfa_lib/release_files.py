"""Where release files live: the storage for a release, and removing files after row deletes or crashes
(release folders without a row, spooled upload parts)."""
import logging
import posixpath
import time

from flask import current_app

from fenfa_lib import current
from fenfa_lib.data_dir_lock import is_held
from fenfa_lib.models import Release, db
from fenfa_lib.storage import S3_SETTING_KEYS, StorageError, build_storage

log = logging.getLogger("fenfa")
LEFTOVER_MIN_AGE = 600  # seconds; anything younger may belong to an upload another process has not finished


def s3_settings(settings):
    return {key: getattr(settings, key) for key in S3_SETTING_KEYS}


def storage_for(kind=None, settings=None):
    """The storage of `kind` ('local'|'s3'), or the one new uploads go to, as the saved settings (or `settings`)
    describe it. The saved settings' storages are built once per catalog revision: an S3 client takes milliseconds
    to make, and a download needs one."""
    if settings is not None:
        return _built_storage(kind or settings.storage_type, settings)
    saved = current.settings()
    kind = kind or saved.storage_type
    storages = current.cache("storage")
    return storages.get_or_compute(kind, current.revision(), lambda: (_built_storage(kind, saved), None))


def _built_storage(kind, settings):
    config = current_app.config["FENFA"]
    return build_storage(kind, config["data_dir"], s3_settings(settings), group_readable=bool(config["accel_redirect"]))


def release_folder(product_id, variant_id, release_id):
    return f"{product_id}/{variant_id}/{release_id}"


def stored_folders(releases):
    """(storage kind, folder) of each release, collected before its row goes."""
    return [(release.storage, posixpath.dirname(release.storage_key)) for release in releases]


def remove_folders(folders):
    """Delete release folders; a storage that fails is logged, since the rows are already gone."""
    for kind, folder in folders:
        try:
            storage_for(kind).delete_prefix(folder)
        except (StorageError, OSError) as exc:
            log.error("could not delete %s files under %s: %s", kind, folder, exc)


def sweep_leftovers(data_dir, min_age=LEFTOVER_MIN_AGE):
    """Remove what a crashed or killed server left behind. Leftovers younger than `min_age` stay: while another
    server may be running on the data dir, they may belong to an upload it has not finished."""
    clear_stale_spools(data_dir / "tmp", min_age)
    remove_orphan_folders(data_dir, min_age)


def _older_than(path, seconds):
    return time.time() - path.stat().st_mtime >= seconds


def clear_stale_spools(directory, min_age):
    """Remove the temporary files of uploads that never finished."""
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.iterdir():
        try:
            if leftover.is_file() and _older_than(leftover, min_age) and not is_held(leftover):
                leftover.unlink()
        except FileNotFoundError:
            pass  # finished (and removed) by its own request meanwhile


def remove_orphan_folders(data_dir, min_age):
    """Delete local release folders without a release row: files stored by an upload whose commit never came."""
    storage = build_storage("local", data_dir, {})
    folders = [path for path in storage.root.glob("prd_*/var_*/rel_*") if path.is_dir()]
    if not folders:
        return
    with db.connection_context():
        release_ids = {release_id for (release_id,) in Release.select(Release.id).tuples()}
    for folder in folders:
        if folder.name in release_ids or not _older_than(folder, min_age):
            continue
        try:
            storage.delete_prefix(folder.relative_to(storage.root).as_posix())
        except (OSError, ValueError) as exc:
            log.error("could not remove orphan release folder %s: %s", folder, exc)
        else:
            log.warning("removed orphan release folder %s: no release row refers to it", folder)
