"""The server secret signs admin sessions and UDID return links, so every server on one database must hold the
same one: the `secret_key` setting when it is set, else a random key that the first server to start creates in
the database. Data dirs from before schema 7 kept a generated key in secret.key: the first start adopts it into
the database (and removes the file), so signed-in browsers and UDID links outlive the upgrade."""
import secrets

from fenfa_lib.config import MIN_SECRET_LENGTH, SECRET_FILE, ConfigError
from fenfa_lib.models import ServerSecret, db

ROW = 1


def server_secret(configured, data_dir):
    """The secret as bytes: `configured`, else the database's, created (or adopted from secret.key) once."""
    if configured:
        return configured.encode()
    legacy = data_dir / SECRET_FILE
    with db.connection_context():
        stored = stored_secret()
        if stored is None:
            created = adopted_secret(legacy) or secrets.token_hex(32)
            ServerSecret.insert(id=ROW, value=created).on_conflict_ignore().execute()  # the first server wins
            stored = stored_secret()
    if legacy.exists():
        legacy.unlink()
    return stored.encode()


def stored_secret():
    return ServerSecret.select(ServerSecret.value).where(ServerSecret.id == ROW).scalar()


def adopted_secret(path):
    """The key an older Fenfa generated in `path`, or None when there is none."""
    if not path.exists():
        return None
    try:
        secret = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        secret = ""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{path} holds no usable key; delete it to generate a new one")
    return secret
