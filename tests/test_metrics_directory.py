"""The supervisor's metrics directory, and the live gauges of workers that are gone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from podium import metrics


def test_the_supervisor_gets_a_fresh_directory_removed_afterwards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(metrics.MULTIPROCESS_VARIABLE, raising=False)
    with metrics.multiprocess_directory():
        directory = Path(os.environ[metrics.MULTIPROCESS_VARIABLE])
        assert directory.is_dir() and not list(directory.iterdir())
        (directory / "counter_1.db").write_bytes(b"x")
    assert metrics.MULTIPROCESS_VARIABLE not in os.environ
    assert not directory.exists()


def test_a_directory_the_operator_set_is_emptied_of_a_previous_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old")
    (given / "notes.txt").write_text("not ours")
    monkeypatch.setenv(metrics.MULTIPROCESS_VARIABLE, str(given))
    with metrics.multiprocess_directory():
        assert sorted(p.name for p in given.iterdir()) == ["notes.txt"]
    assert given.is_dir() and os.environ[metrics.MULTIPROCESS_VARIABLE] == str(given)


def test_the_live_gauges_of_a_worker_that_is_gone_are_dropped(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])
    finished.wait()
    gone, alive = finished.pid, os.getpid()
    for pid in (gone, alive):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    metrics._forget_dead_workers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{gone}.db", f"counter_{alive}.db", f"gauge_livesum_{alive}.db"]
    )
