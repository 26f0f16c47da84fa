"""Retention (SPEC §11): after an upload, a variant keeps its pinned releases and its newest keep_releases unpinned
ones, the rest deleted as an API delete does; events older than events_retention_days go in batches, at start-up
and then daily (a moved clock here)."""
import json
import threading
import time
import urllib.request
from datetime import timedelta

import pytest

from fenfa_lib import jobs, retention
from fenfa_lib.models import Event, Release, WebhookDelivery, db, utcnow

from helpers import ADMIN_TOKEN, UPLOAD_TOKEN, Api, count_calls, stored_files
from live import live_fenfa

EXE = b"MZ" + bytes(range(256)) * 8


@pytest.fixture
def windows(api):
    return api.create_variant(api.create_product()["id"], platform="windows", display_name="Windows", identifier="x")


def upload(api, variant_id, number):
    return api.upload_release(variant_id, "setup.exe", EXE + bytes([number]), version=f"1.{number}")


def kept(variant_id):
    return sorted(release.id for release in Release.select().where(Release.variant == variant_id))


def folders(data_dir):
    return sorted(path.split("/")[2] for path in stored_files(data_dir) if path.count("/") == 2)


def set_keep(api, variant_id, keep):
    api.data("PUT", f"/admin/api/variants/{variant_id}", json={"keep_releases": keep})


def pin(api, release_id, pinned=True):
    api.data("PUT", f"/admin/api/releases/{release_id}", json={"pinned": pinned})


def test_without_keep_releases_every_release_stays(api, windows, data_dir):
    releases = [upload(api, windows["id"], number)["id"] for number in range(4)]
    assert kept(windows["id"]) == sorted(releases)


def test_an_upload_deletes_the_oldest_unpinned_releases_and_their_files(api, windows, data_dir):
    first, second, third = (upload(api, windows["id"], number)["id"] for number in range(3))
    pin(api, first)
    set_keep(api, windows["id"], 1)
    assert kept(windows["id"]) == sorted([first, second, third]), "changing keep_releases deletes nothing by itself"
    fourth = upload(api, windows["id"], 3)["id"]
    assert kept(windows["id"]) == sorted([first, fourth])
    assert folders(data_dir) == sorted([first, fourth])
    listed = api.data("GET", "/admin/api/releases", query_string={"variant_id": windows["id"]})["items"]
    assert [item["id"] for item in listed] == [fourth, first]


def test_pinned_releases_do_not_count_against_the_number(api, windows, data_dir):
    pinned = [upload(api, windows["id"], number)["id"] for number in range(3)]
    for release_id in pinned:
        pin(api, release_id)
    set_keep(api, windows["id"], 2)
    newer = [upload(api, windows["id"], number)["id"] for number in range(3, 6)]
    assert kept(windows["id"]) == sorted([*pinned, *newer[1:]])


def test_an_unpinned_release_goes_at_the_next_upload(api, windows, data_dir):
    set_keep(api, windows["id"], 1)
    first = upload(api, windows["id"], 0)["id"]
    pin(api, first)
    second = upload(api, windows["id"], 1)["id"]
    pin(api, first, pinned=False)
    assert kept(windows["id"]) == sorted([first, second])
    third = upload(api, windows["id"], 2)["id"]
    assert kept(windows["id"]) == [third]
    assert folders(data_dir) == [third]


def test_the_release_just_uploaded_is_never_deleted(api, windows):
    """A release that sorts newer (an upload that committed meanwhile, here a clock ahead) does not push it out."""
    set_keep(api, windows["id"], 1)
    ahead = upload(api, windows["id"], 0)["id"]
    Release.update(created_at=utcnow() + timedelta(hours=1)).where(Release.id == ahead).execute()
    just_uploaded = upload(api, windows["id"], 1)["id"]
    assert kept(windows["id"]) == sorted([ahead, just_uploaded])


def test_retention_is_per_variant(api, windows):
    other = api.create_variant(windows["product_id"], platform="windows", display_name="Windows ARM", identifier="y")
    others = [upload(api, other["id"], number)["id"] for number in range(3)]
    set_keep(api, windows["id"], 1)
    upload(api, windows["id"], 0)
    upload(api, windows["id"], 1)
    assert kept(other["id"]) == sorted(others)
    assert len(kept(windows["id"])) == 1


def test_retention_reports_each_deleted_release_to_webhooks(api, windows, monkeypatch):
    deletes = count_calls(monkeypatch, "fenfa_lib.catalog.delete_release")
    monkeypatch.setattr("fenfa_lib.webhooks.resolved_addresses", lambda host, port: ["93.184.215.14"])
    api.data("POST", "/admin/api/webhooks", 201, json={"url": "https://hooks.example.com/x",
                                                       "events": ["release.deleted"]})
    set_keep(api, windows["id"], 1)
    first = upload(api, windows["id"], 0)["id"]
    upload(api, windows["id"], 1)
    assert [args[0].id for args in deletes] == [first]
    deliveries = list(WebhookDelivery.select().where(WebhookDelivery.event == "release.deleted"))
    assert [delivery.payload["release"]["id"] for delivery in deliveries] == [first]


def test_a_skipped_duplicate_deletes_nothing(api, windows):
    first = upload(api, windows["id"], 0)["id"]
    second = upload(api, windows["id"], 1)["id"]
    set_keep(api, windows["id"], 1)
    response = api.upload(windows["id"], "setup.exe", EXE + bytes([1]), skip_duplicate="true")
    assert response.status_code == 200 and response.json["data"]["release"]["id"] == second
    assert kept(windows["id"]) == sorted([first, second])


def test_a_busy_database_leaves_retention_to_the_next_upload(api, windows, monkeypatch):
    first = upload(api, windows["id"], 0)["id"]
    set_keep(api, windows["id"], 1)

    def busy(release):
        raise retention.OperationalError("database is locked")

    monkeypatch.setattr("fenfa_lib.catalog.delete_release", busy)
    second = upload(api, windows["id"], 1)["id"]
    assert kept(windows["id"]) == sorted([first, second])


# Events.

def old_events(count, age_days, event_type="visit"):
    with db.atomic():
        for _ in range(count):
            Event.create(type=event_type, ts=utcnow() - timedelta(days=age_days))


def event_total(api):
    return api.data("GET", "/admin/api/events", query_string={"limit": 1})["total"]


def test_events_past_the_retention_go_in_batches(api, monkeypatch):
    api.data("PUT", "/admin/api/settings", json={"events_retention_days": 30})
    old_events(10, age_days=31)
    old_events(3, age_days=29)
    batches = count_calls(monkeypatch, "fenfa_lib.retention.delete_event_batch")
    assert retention.prune_events(batch=4) == 10
    assert [args[1] for args in batches] == [4, 4, 4]
    assert event_total(api) == 3
    assert retention.prune_events(now=utcnow() + timedelta(days=2)) == 3
    assert event_total(api) == 0


def test_each_batch_commits_before_the_next(api, monkeypatch):
    """Another writer gets the lock between batches: no transaction spans the whole prune."""
    api.data("PUT", "/admin/api/settings", json={"events_retention_days": 1})
    old_events(6, age_days=2)
    original, open_after = retention.delete_event_batch, []

    def observed(cutoff, batch):
        deleted = original(cutoff, batch)
        open_after.append(db.in_transaction())
        return deleted

    monkeypatch.setattr(retention, "delete_event_batch", observed)
    assert retention.prune_events(batch=2) == 6
    assert open_after == [False] * 4  # 2 + 2 + 2, then one that finds none left
    assert event_total(api) == 0


def test_events_are_kept_without_a_retention_setting(api):
    old_events(5, age_days=3650)
    assert retention.prune_events(now=utcnow() + timedelta(days=3650)) == 0
    assert event_total(api) == 5


def test_the_periodic_prune_runs_at_once_then_once_a_day(api, monkeypatch):
    rounds, clock = [], [utcnow()]

    class Stop:
        """A stop event whose wait returns at once, a day later from the second one on; the fourth stops the loop."""

        def wait(self, seconds):
            rounds.append(seconds)
            if len(rounds) > 2:
                clock[0] += retention.PRUNE_EVENTS_EVERY
            return rounds.count(seconds) >= 4

    monkeypatch.setattr(jobs, "utcnow", lambda: clock[0])
    monkeypatch.setattr(retention, "prune_events", lambda: rounds.append("prune"))
    retention.prune_events_periodically(Stop())
    hour = retention.CHECK_EVERY.total_seconds()
    assert rounds == ["prune", hour, hour, "prune", hour, "prune", hour]


def test_a_due_job_runs_on_one_server_at_a_time_and_once_in_its_interval(api):
    started, may_finish, results = threading.Event(), threading.Event(), []

    def slow_job():
        started.set()
        assert may_finish.wait(10)

    def first_server():
        results.append(jobs.run_if_due("test-job", timedelta(days=1), slow_job))

    thread = threading.Thread(target=first_server)
    thread.start()
    assert started.wait(10)
    assert jobs.run_if_due("test-job", timedelta(days=1), lambda: results.append("ran twice")) is False
    may_finish.set()
    thread.join()
    assert results == [True]
    assert jobs.run_if_due("test-job", timedelta(days=1), lambda: results.append("again")) is False
    later = utcnow() + timedelta(days=1, seconds=1)
    assert jobs.run_if_due("test-job", timedelta(days=1), lambda: results.append("next day"), now=later) is True
    assert results == [True, "next day"]


def test_a_server_prunes_old_events_when_it_starts(make_app, data_dir, database):
    api = Api(make_app().test_client(), ADMIN_TOKEN)
    api.data("PUT", "/admin/api/settings", json={"events_retention_days": 7})
    old_events(4, age_days=8)
    old_events(2, age_days=1)
    db.close()
    with live_fenfa(data_dir, admin_token=ADMIN_TOKEN, upload_token=UPLOAD_TOKEN, database_url=database) as server:
        deadline, total = time.monotonic() + 10, None
        while total != 2 and time.monotonic() < deadline:
            request = urllib.request.Request(f"{server.base}/admin/api/events", headers={"X-Auth-Token": ADMIN_TOKEN})
            with urllib.request.urlopen(request, timeout=5) as response:
                total = json.loads(response.read())["data"]["total"]
            time.sleep(0.05)
        log = server.log()
    assert total == 2
    assert "retention: deleted 4 events older than 7 days" in log
