"""System checks: a task cluster whose every worker a provider's dispatch tasks could hold is flagged."""

from rcsconnect.checks import check_task_workers


def test_dispatchers_below_workers_pass(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 3, "sync": False}
    settings.RCS_DISPATCHERS = 2
    assert check_task_workers(None) == []


def test_dispatchers_holding_every_worker_warn(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2, "sync": False}
    settings.RCS_DISPATCHERS = 2
    [warning] = check_task_workers(None)
    assert warning.id == "rcs.W001"
    assert "imports" in warning.msg and "RCS_DISPATCHERS" in warning.hint


def test_default_leaves_one_worker_free(monkeypatch):
    import importlib

    import rcsconnect.settings as module

    monkeypatch.setenv("Q_WORKERS", "4")
    monkeypatch.delenv("RCS_DISPATCHERS", raising=False)
    try:
        assert importlib.reload(module).RCS_DISPATCHERS == 3
        monkeypatch.setenv("Q_WORKERS", "1")
        assert importlib.reload(module).RCS_DISPATCHERS == 1
    finally:
        monkeypatch.undo()
        importlib.reload(module)
