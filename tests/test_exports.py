"""CSV exports: admin only, streamed, RFC 4180, filtered, safe in spreadsheets."""
import csv
import io

import pytest

from fenfa_lib.models import DeviceBinding, Event, IOSDevice, utcnow
from fenfa_lib.web.admin.exports import EVENT_COLUMNS, cell

from helpers import UPLOAD_TOKEN, assert_error

EXE = b"MZ" + b"\0" * 64
EXPORTS = ["/admin/exports/releases.csv", "/admin/exports/events.csv", "/admin/exports/ios_devices.csv"]


def read_csv(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))



@pytest.mark.parametrize("path", EXPORTS)
def test_exports_need_an_admin_token(api, path):
    assert_error(api.call("GET", path, token=""), 401, "UNAUTHORIZED")
    assert_error(api.call("GET", path, token=UPLOAD_TOKEN), 403, "FORBIDDEN")


@pytest.mark.parametrize("path", EXPORTS)
def test_empty_exports_have_a_header_row(api, path):
    rows = read_csv(api.call("GET", path))
    assert len(rows) == 1 and rows[0][0] in ("release_id", "id", "udid")


def test_releases_csv_rows_filters_and_formula_guard(api):
    product = api.create_product()
    windows = api.create_variant(product["id"], platform="windows", identifier="win")
    linux = api.create_variant(product["id"], platform="linux", identifier="lin")
    first = api.upload_release(windows["id"], "setup.exe", EXE, version="1.0", build="7", channel="=HYPERLINK(\"x\")")
    api.upload_release(linux["id"], "a.tar.gz", b"\x1f\x8b" + b"\0" * 64)
    rows = read_csv(api.call("GET", "/admin/exports/releases.csv"))
    assert rows[0] == ["release_id", "product_id", "variant_id", "platform", "identifier", "version", "build",
                       "channel", "file_name", "size_bytes", "sha256", "download_count", "created_at", "branch",
                       "git_commit", "ci_url", "source"]
    assert len(rows) == 3
    only_windows = read_csv(api.call("GET", "/admin/exports/releases.csv?platform=Windows"))
    assert len(only_windows) == 2
    row = dict(zip(only_windows[0], only_windows[1]))
    assert (row["release_id"], row["variant_id"], row["version"], row["build"]) == (
        first["id"], windows["id"], "1.0", "7")
    assert row["channel"] == "'=HYPERLINK(\"x\")"
    assert row["size_bytes"] == "66" and row["created_at"].endswith("Z")
    assert len(read_csv(api.call("GET", f"/admin/exports/releases.csv?variant_id={linux['id']}"))) == 2
    assert len(read_csv(api.call("GET", "/admin/exports/releases.csv?from=2999-01-01"))) == 1
    assert_error(api.call("GET", "/admin/exports/releases.csv?from=yesterday"), 400, "BAD_REQUEST", "from")


def test_events_csv_quotes_awkward_values_and_keeps_deleted_history(api, client):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="windows", identifier="win")
    release = api.upload_release(variant["id"], "setup.exe", EXE)
    client.get(f"/d/{release['id']}", headers={"User-Agent": 'Agent, "quoted"'})
    Event.create(type="click", release_id=release["id"], user_agent="two\nlines", extra={"button": "=x"})
    api.data("DELETE", f"/admin/api/products/{product['id']}")
    rows = read_csv(api.call("GET", "/admin/exports/events.csv?type=download"))
    assert rows[0] == ["id", "ts", "type", "product_id", "variant_id", "release_id", "ip", "user_agent", "extra"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert (row["type"], row["release_id"], row["product_id"]) == ("download", release["id"], product["id"])
    assert row["user_agent"] == 'Agent, "quoted"'
    clicks = read_csv(api.call("GET", "/admin/exports/events.csv?type=click"))
    assert dict(zip(clicks[0], clicks[1]))["user_agent"] == "two\nlines"
    assert dict(zip(clicks[0], clicks[1]))["extra"] == '{"button": "=x"}'


def test_ios_devices_csv(api):
    product = api.create_product()
    variant = api.create_variant(product["id"], platform="ios", identifier="com.example")
    device = IOSDevice.create(id="dev_00000000000000aa", udid="00008030-001A2B3C4D5E6F70", device_name="-Anna's iPhone",
                              model="iPhone14,2", os_version="21G93", serial="F2LXXXX")
    IOSDevice.create(id="dev_00000000000000bb", udid="00008030-0000000000000001", created_at=utcnow())
    DeviceBinding.create(device=device, variant=variant["id"])
    rows = read_csv(api.call("GET", f"/admin/exports/ios_devices.csv?variant_id={variant['id']}"))
    assert rows[0] == ["udid", "device_name", "model", "os_version", "serial", "created_at", "last_seen_at",
                       "apple_registered", "apple_device_id", "variant_ids"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1]))
    assert (row["udid"], row["device_name"], row["model"]) == ("00008030-001A2B3C4D5E6F70", "'-Anna's iPhone",
                                                               "iPhone14,2")
    assert (row["apple_registered"], row["variant_ids"]) == ("false", variant["id"])
    assert len(read_csv(api.call("GET", "/admin/exports/ios_devices.csv"))) == 3
    listing = api.data("GET", "/admin/api/ios_devices?q=Anna")
    assert listing["total"] == 1 and listing["items"][0]["variant_ids"] == [variant["id"]]


def test_events_list_and_export_share_filters(api):
    Event.insert_many([{"type": "visit", "variant_id": "var_a"}, {"type": "click", "variant_id": "var_b"}]).execute()
    assert api.data("GET", "/admin/api/events?variant_id=var_a")["total"] == 1
    assert len(read_csv(api.call("GET", "/admin/exports/events.csv?variant_id=var_a"))) == 2


def test_the_events_export_read_off_the_cursor_matches_the_events_api(api, client, shop):
    release_id = shop["releases"]["android"]["id"]
    for extra in ({"note": "漢字 ✓", "n": 3, "ok": True}, {}, {"formula": "=1+1"}):
        client.post("/events", json={"type": "click", "release_id": release_id, "extra": extra},
                    headers={"User-Agent": "=HYPERLINK(\"x\")"})
    client.get(f"/d/{release_id}")
    exported = list(csv.reader(io.StringIO(api.call("GET", "/admin/exports/events.csv").get_data(as_text=True))))
    listed = api.data("GET", "/admin/api/events?limit=1000")["items"]
    expected = [[cell(event[column]) for column in EVENT_COLUMNS] for event in listed]
    assert exported[0] == list(EVENT_COLUMNS) and exported[1:] == expected
    assert len(expected) >= 4
