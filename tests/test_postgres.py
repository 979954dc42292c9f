"""A study shared through a real PostgreSQL server: two search processes on one study, one SIGKILLed while it
trains a candidate; the other finishes the budget, keeps every completed trial and redoes the interrupted one
once the dead process's heartbeat goes stale. The server is the one in $VIDNAS_TEST_POSTGRES (a SQLAlchemy URL),
else a throwaway one started here on 127.0.0.1 (``.ci/run`` installs the Debian packages); without either the
tests are skipped with the reason, never passed."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from vidnas.errors import VidnasError
from vidnas.search import Study

REQUIRED = os.environ.get("VIDNAS_REQUIRE_POSTGRES") == "1"  # CI: a missing server fails instead of skipping


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"VIDNAS_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


try:
    import psycopg2
except ImportError:  # pragma: no cover - the test extra installs it
    psycopg2 = None


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A base URL (no database name) of a PostgreSQL server to create test databases on."""
    if psycopg2 is None:
        _unavailable("psycopg2 (the PostgreSQL driver) is not installed: pip install psycopg2-binary")
    given = os.environ.get("VIDNAS_TEST_POSTGRES")
    if given:
        yield given.rsplit("/", 1)[0]
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        _unavailable("no PostgreSQL server: initdb/pg_ctl not found (apt-get install postgresql, as .ci/run does) and VIDNAS_TEST_POSTGRES is unset")
    folder = Path(tempfile.mkdtemp(prefix="vidnas-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the packages' postgres user
        if not shutil.which("runuser"):
            _unavailable("no PostgreSQL server: running as root and runuser is missing")
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "--auth=trust", "-U", "postgres", "--no-sync"], check=True, capture_output=True, timeout=120)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    started = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "server.log"), "-w", "-t", "60", "start"],
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        log = (folder / "server.log").read_text() if (folder / "server.log").is_file() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()} {log[-500:]}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def database(server: str) -> str:
    """A fresh, empty database on the server: its URL."""
    name = f"vidnas_{uuid.uuid4().hex[:10]}"
    plain = server.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(f"{plain}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()
    return f"{server}/{name}"


SHARED_SCRIPT = """
import sys
from vidnas.search import SearchConfig
from vidnas.search._engine import Search
if __name__ == "__main__":
    config = SearchConfig(space="autox3d", strategy="evolution", trials=int(sys.argv[3]), executor="inprocess", strategy_options={"population": 3},
                          recipe=dict(epochs=1, max_seconds=3), rungs=None, final_retrain=False)
    Search(config, sys.argv[1], storage=sys.argv[2], evaluator="vidnas.search._synthetic:evaluate", progress=False, stale_after=float(sys.argv[4])).run()
"""


def _trials(url: str) -> list:  # noqa: ANN401 - StoredTrial list
    try:
        return Study.load("search", url).trials()
    except VidnasError:
        return []


def test_two_processes_share_a_postgres_study_and_one_killed_mid_candidate_is_redone(database: str, tmp_path: Path, search_home: Path) -> None:
    script = tmp_path / "search.py"
    script.write_text(SHARED_SCRIPT)
    budget, stale = 14, 4.0
    common = dict(os.environ, VIDNAS_HOME=str(search_home), VIDNAS_SYNTHETIC_FAULTS="sleep:1.0")
    # two "machines": distinct host names, so the survivor can only learn of the death through the heartbeat
    doomed = subprocess.Popen([sys.executable, str(script), str(tmp_path / "a"), database, str(budget), str(stale)], env=dict(common, VIDNAS_HOST="machine-a"))
    time.sleep(1.0)
    survivor = subprocess.Popen([sys.executable, str(script), str(tmp_path / "b"), database, str(budget), str(stale)], env=dict(common, VIDNAS_HOST="machine-b"))
    deadline, victim = time.time() + 180, None
    while time.time() < deadline and victim is None:
        time.sleep(0.2)
        trials = _trials(database)
        done_by_a = [t for t in trials if t.status == "ok" and str(t.attrs.get("worker", "")).startswith("machine-a")]
        running_a = [t for t in trials if t.status == "running" and str(t.attrs.get("worker", "")).startswith("machine-a")]
        if len(done_by_a) >= 2 and running_a and any(str(t.attrs.get("worker", "")).startswith("machine-b") for t in trials):
            doomed.send_signal(signal.SIGKILL)
            victim = running_a[0]
    doomed.wait(30)
    assert victim is not None, "the first search never ran a trial the test could interrupt"
    completed_before = {t.number: (t.fingerprint, t.fitness) for t in _trials(database) if t.status == "ok"}
    assert survivor.wait(240) == 0
    after = {t.number: t for t in _trials(database)}
    assert {n: (after[n].fingerprint, after[n].fitness) for n in completed_before} == completed_before  # nothing finished was lost
    interrupted = after[victim.number]
    assert interrupted.status == "interrupted" and "machine-a" in interrupted.attrs["reason"] and "sent no heartbeat" in interrupted.attrs["reason"]
    redone = [t for t in after.values() if t.attrs.get("origin") == "requeue" and t.fingerprint == victim.fingerprint]
    assert len(redone) == 1 and redone[0].status == "ok" and redone[0].attrs["worker"].startswith("machine-b")
    assert sum(t.trained for t in after.values()) >= budget  # the survivor finished the shared budget
    assert not [t for t in after.values() if t.status == "running"]


def test_a_ray_worker_killed_mid_trial_is_a_failed_trial_and_the_search_goes_on(database: str, tmp_path: Path, search_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    from vidnas.search import SearchConfig, run_search

    # Ray's workers take the environment of the runtime that ray.init started: start a fresh one for this
    # test's fault, and stop it afterwards so later tests do not inherit a worker-killing environment
    ray.shutdown()

    # the synthetic evaluator kills its own worker process (os._exit, as an OOM kill would) on the second call
    monkeypatch.setenv("VIDNAS_HOME", str(search_home))
    monkeypatch.setenv("VIDNAS_SYNTHETIC_FAULTS", "exit:1")
    config = SearchConfig(space="autox3d", strategy="evolution", trials=4, executor="ray", workers=1, threads=1, strategy_options={"population": 3},
                          recipe=dict(epochs=1, max_seconds=3), rungs=None, final_retrain=False)
    try:
        result = run_search(config, tmp_path / "ray", storage=database, evaluator="vidnas.search._synthetic:evaluate", progress=False)
    finally:
        ray.shutdown()
    by_number = {t.number: t for t in result.trials}
    assert by_number[1].status == "failed" and "ray task failed" in by_number[1].attrs["reason"]
    assert sum(t.status == "ok" for t in result.trials) == 3
    assert {t.number for t in Study.load("search", database).trials()} == set(by_number)
