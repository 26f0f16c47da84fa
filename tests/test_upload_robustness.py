"""The upload pipeline under stress: concurrent writers, failures between storing and committing, crashes,
long file names and crafted multipart forms."""
import fcntl
import io
import os
import threading
import time
from contextlib import contextmanager

import pytest

from fenfa_lib.data_dir_lock import LOCK_FILE
from fenfa_lib.models import Event, Product, Release, Variant
from fenfa_lib.packages.filetypes import MAX_FILE_NAME_BYTES, safe_file_name
from fenfa_lib.release_files import LEFTOVER_MIN_AGE
from fenfa_lib.storage import LocalStorage

from corpus import require_samples
from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api, assert_error, assert_nothing_left

SMART = "/admin/api/smart-upload"
APK = "android-politedroid-minsdk3-tiny.apk"
EXE = b"MZ" + b"\0" * 64
LONG_AGO = time.time() - LEFTOVER_MIN_AGE - 60


@pytest.fixture
def windows_variant(api):
    return api.create_variant(api.create_product()["id"], platform="windows")


def send(app, smart, variant_id=None, apk=None):
    """One upload on a client of its own, as a second connection would send it. A worker thread passes the
    sample's bytes (`apk`), read beforehand, so that a missing corpus fails the test in its own thread."""
    api = Api(app.test_client(), ADMIN_TOKEN)
    if smart:
        return api.upload(None, APK, apk, path=SMART, token=ADMIN_TOKEN)
    return api.upload(variant_id, "setup.exe", EXE)


@pytest.mark.parametrize("smart", [False, True], ids=["upload", "smart-upload"])
def test_other_writers_go_ahead_while_a_file_is_being_stored(app, windows_variant, monkeypatch, smart):
    storing = threading.Event()
    original_save = LocalStorage.save_file

    def slow_save(self, key, source_path):
        storing.set()
        time.sleep(6)  # longer than SQLite's 5 s busy timeout, like a large S3 multipart upload
        original_save(self, key, source_path)

    monkeypatch.setattr(LocalStorage, "save_file", slow_save)
    answers = {}
    apk = (require_samples() / APK).read_bytes()
    uploader = threading.Thread(target=lambda: answers.update(upload=send(app, smart, windows_variant["id"], apk)))
    uploader.start()
    try:
        while not storing.wait(0.05):
            assert uploader.is_alive(), "the upload ended before it stored its file"
        started = time.monotonic()
        other = Api(app.test_client(), ADMIN_TOKEN).call("POST", "/admin/api/products",
                                                         json={"name": "Other", "slug": "other"})
        elapsed = time.monotonic() - started
    finally:
        uploader.join(60)
    assert other.status_code == 201, other.get_data(as_text=True)
    assert elapsed < 2
    assert answers["upload"].status_code == 201, answers["upload"].get_data(as_text=True)
    assert Release.select().count() == 1


@pytest.mark.parametrize("smart", [False, True], ids=["upload", "smart-upload"])
def test_a_failed_commit_leaves_no_rows_and_no_files(app, windows_variant, data_dir, monkeypatch, smart):
    def broken_event_table(cls, **fields):
        raise RuntimeError("events table is broken")

    monkeypatch.setattr(Event, "create", classmethod(broken_event_table))
    assert_error(send(app, smart, windows_variant["id"]), 500, "INTERNAL_ERROR")
    assert_nothing_left(data_dir)
    assert Event.select().count() == 0
    assert (Product.select().count(), Variant.select().count()) == (1, 1)


def test_a_variant_deleted_during_the_upload_leaves_nothing(app, windows_variant, data_dir, monkeypatch):
    original_save = LocalStorage.save_file

    def save_then_delete_the_variant(self, key, source_path):
        original_save(self, key, source_path)
        Variant.delete_by_id(windows_variant["id"])

    monkeypatch.setattr(LocalStorage, "save_file", save_then_delete_the_variant)
    response = send(app, False, windows_variant["id"])
    assert_error(response, 404, "NOT_FOUND", "deleted during the upload")
    assert_nothing_left(data_dir)


def test_smart_upload_refuses_when_the_app_appeared_during_the_upload(app, data_dir, monkeypatch):
    original_save = LocalStorage.save_file

    def save_while_another_upload_creates_the_app(self, key, source_path):
        original_save(self, key, source_path)
        product = Product.create(id="prd_0000000000000001", name="PoliteDroid", slug="politedroid")
        Variant.create(id="var_0000000000000001", product=product, platform="android", display_name="Android",
                       identifier="com.politedroid", installer_type="apk")

    monkeypatch.setattr(LocalStorage, "save_file", save_while_another_upload_creates_the_app)
    response = send(app, True)
    assert response.status_code == 409, response.get_data(as_text=True)
    assert "send the file again" in response.json["error"]["message"]
    assert_nothing_left(data_dir)
    assert [variant.id for variant in Variant.select()] == ["var_0000000000000001"]
    assert Product.select().count() == 1


@contextmanager
def another_server(data_dir):
    """The lock a running server holds on its data dir, held by this test instead."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


def make_folder(folder, age=LONG_AGO):
    folder.mkdir(parents=True)
    (folder / "setup.exe").write_bytes(EXE)
    os.utime(folder, (age, age))
    return folder


def test_orphan_release_folders_are_removed_at_start(api, windows_variant, data_dir, make_app):
    release = api.upload_release(windows_variant["id"], "setup.exe", EXE)
    uploads = data_dir / "uploads"
    live = uploads / windows_variant["product_id"] / windows_variant["id"] / release["id"]
    os.utime(live, (LONG_AGO, LONG_AGO))
    beside_a_release = make_folder(live.parent / "rel_00000000000000aa")
    alone = make_folder(uploads / "prd_00000000000000bb" / "var_00000000000000bb" / "rel_00000000000000bb")
    make_app()
    assert not beside_a_release.exists()
    assert not alone.parent.parent.exists()  # the emptied variant and product folders go too
    assert sorted(path.name for path in live.iterdir()) == ["meta.json", "setup.exe"]
    assert api.call("GET", f"/d/{release['id']}", token="").data == EXE


def test_a_folder_stored_moments_ago_is_left_while_another_server_may_commit_it(make_app, data_dir):
    in_flight = make_folder(data_dir / "uploads" / "prd_00000000000000cc" / "var_00000000000000cc" /
                            "rel_00000000000000cc", age=time.time())
    with another_server(data_dir):
        make_app()
    assert (in_flight / "setup.exe").read_bytes() == EXE


def test_with_no_other_server_every_leftover_goes_at_once(make_app, data_dir):
    fresh = make_folder(data_dir / "uploads" / "prd_00000000000000dd" / "var_00000000000000dd" /
                        "rel_00000000000000dd", age=time.time())
    (data_dir / "tmp").mkdir()
    (data_dir / "tmp" / "upload-just-now.part").write_bytes(b"a spool a killed server left")
    make_app()
    assert not fresh.exists() and not (data_dir / "uploads" / "prd_00000000000000dd").exists()
    assert list((data_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize("name,expected_end", [
    ("安装程序" * 25 + ".exe", ".exe"),
    ("Приложение " * 30 + ".tar.gz", ".tar.gz"),
    ("😀" * 60 + ".APK", ".APK"),
    ("é" * 300, "é"),
    ("build." + "中" * 100, "中"),
])
def test_long_names_are_cut_to_200_bytes_on_a_character_boundary(name, expected_end):
    safe = safe_file_name(name)
    encoded = safe.encode()
    assert MAX_FILE_NAME_BYTES - 4 < len(encoded) <= MAX_FILE_NAME_BYTES
    assert safe.endswith(expected_end) and not safe.endswith(" " + expected_end)
    assert name.startswith(safe[:10])


@pytest.mark.parametrize("name", ["setup.exe", "安装程序.exe", "a" * 196 + ".exe"])
def test_names_that_fit_are_kept(name):
    assert safe_file_name(name) == name


def test_a_long_chinese_file_name_is_stored_and_served(api, windows_variant, data_dir):
    name = "安装程序" * 25 + ".exe"
    release = api.upload_release(windows_variant["id"], name, EXE)
    row = Release.get_by_id(release["id"])
    assert row.file_name.endswith(".exe") and len(row.file_name.encode()) <= MAX_FILE_NAME_BYTES
    assert (data_dir / "uploads" / row.storage_key).read_bytes() == EXE
    assert api.call("GET", f"/d/{release['id']}", token="").data == EXE


def test_a_second_file_part_is_refused(api, windows_variant, data_dir):
    form = {"variant_id": windows_variant["id"], "app_file": (io.BytesIO(EXE), "setup.exe"),
            "extra": (io.BytesIO(b"x" * 1000), "extra.bin")}
    response = api.call("POST", "/upload", token=UPLOAD_TOKEN, data=form, content_type="multipart/form-data")
    assert_error(response, 400, "BAD_REQUEST", "one file")
    assert_nothing_left(data_dir)


def test_a_form_with_too_many_parts_is_refused(api, windows_variant, data_dir):
    form = {"variant_id": windows_variant["id"], "app_file": (io.BytesIO(EXE), "setup.exe"),
            **{f"field{number}": "x" for number in range(40)}}
    response = api.call("POST", "/upload", token=UPLOAD_TOKEN, data=form, content_type="multipart/form-data")
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert_nothing_left(data_dir)


def test_a_spool_still_held_by_its_request_survives_any_sweep(data_dir, make_app):
    from fenfa_lib.release_files import sweep_leftovers
    from fenfa_lib.web.spool import HashingSpool

    make_app()
    spool = HashingSpool(data_dir / "tmp", limit=1024)
    spool.write(b"MZ a long S3 upload still reads this")
    spool.finish()
    os.utime(spool.path, (LONG_AGO, LONG_AGO))
    sweep_leftovers(data_dir, min_age=0)
    assert os.path.exists(spool.path)
    spool.discard()
    assert not os.path.exists(spool.path)
