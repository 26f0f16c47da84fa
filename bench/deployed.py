"""The server as deploy/fenfa.service runs it, for the benches that measure its memory and start-up."""
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from live import REPO, live_fenfa  # noqa: E402

UNIT = REPO / "deploy" / "fenfa.service"


def unit_environment():
    """The variables the unit's `Environment=` lines set (MALLOC_ARENA_MAX…); its FENFA_* settings come from
    an EnvironmentFile that each bench replaces with its own."""
    environment = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            for assignment in shlex.split(line.removeprefix("Environment=")):
                name, _, value = assignment.partition("=")
                environment[name] = value
    return environment


def describe_environment():
    return " ".join(f"{name}={value}" for name, value in unit_environment().items()) or "nothing"


def memory_mib(pid, field="VmRSS"):
    """A /proc/PID/status figure in MiB: VmRSS (now) or VmHWM (the peak since the process started)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def deployed_fenfa(data_dir, **settings):
    """A LiveServer like tests/live.py's, its environment completed by the unit's."""
    return live_fenfa(data_dir, environment=unit_environment(), **settings)
