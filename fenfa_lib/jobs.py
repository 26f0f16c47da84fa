"""Periodic jobs that every server runs on a timer but that should run once for all of them (pruning old events):
a run takes the job's lock, which no other server holds at the same time (dialect.job_lock), and does the work only
when the database says no server did it within the job's interval."""
from fenfa_lib.dialect import job_lock
from fenfa_lib.models import JobRun, db, utcnow


def run_if_due(name, every, job, now=None):
    """Run `job()` unless some server ran job `name` within `every` (a timedelta) or is running it now; whether
    this call ran it. A job that raises counts as not run, so the next check tries again."""
    now = now or utcnow()
    with db.connection_context(), job_lock(name) as held:
        if not held:
            return False
        last = JobRun.select(JobRun.last_run_at).where(JobRun.name == name).scalar()
        if last is not None and last > now - every:
            return False
        job()
        (JobRun.insert(name=name, last_run_at=now)
         .on_conflict(conflict_target=[JobRun.name], update={JobRun.last_run_at: now}).execute())
        return True
