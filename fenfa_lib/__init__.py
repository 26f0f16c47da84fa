"""Fenfa's code, in layers whose imports point down only (tests/test_layers.py keeps it so):

- `web/`: everything that reads a request or registers a route. The blueprints (`public`, `public_api`,
  `downloads`, `upload`, `udid`, `health`, and `web/admin/` for the admin side), the envelope and its error
  handlers, auth, request checks, the spooling request, waitress glue, URLs, JSON shapes, the product page's
  view model and texts.
- the core, here: `models` (and `schema`, their database file and its migrations) and the services that
  change them (`catalog`, `uploads`, `events`, `udid`, `release_files`), `errors` (the ApiError services
  raise), `revision` (caches the catalog revision keeps correct), `current`, `ids`, `address_limits` (the
  per-address budgets and lockouts), `server_secret`, `jobs` (periodic jobs run once for all servers),
  `dialect` (what differs between SQLite and PostgreSQL); `config` and `text` are leaves any layer may use.
- `packages/`: the parsers, `parse_package(path, name) -> AppInfo`, knowing nothing of Flask or the database.
- `storage`: local disk and S3 behind one interface, knowing nothing of requests.
"""

__version__ = "0.9.0"
