"""Measurement under concurrency, the control endpoints, the template status endpoint and the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from providers.simulator import start_simulator

from .helpers import jiocx_message, send, send_jiocx, text_message

ROOT = Path(__file__).resolve().parents[3]


def message_from(sender, msg_id):
    body = text_message(msg_id)
    body["rcsContent"]["senderId"] = sender
    return body


def test_counts_per_sender(simulator):
    simulator.configure(callbacks=False)
    for msg_id in ("a-1", "a-2", "a-1", "a-1"):
        send(simulator, message_from("alpha", msg_id))
    send(simulator, message_from("beta", "b-1"))
    send_jiocx(simulator, jiocx_message("j-1", agent="agent-9"))
    alpha = simulator.stats("alpha")
    assert alpha["total_requests"] == 4 and alpha["unique_msg_ids"] == 2 and alpha["duplicate_msg_ids"] == 2
    assert alpha["accepted"] == 2 and alpha["duplicate_accepted"] == 2
    assert sum(alpha["per_second"].values()) == 4 and alpha["max_per_second"] >= 2
    everything = simulator.stats()
    assert everything["total_requests"] == 6 and everything["unique_msg_ids"] == 4
    assert set(everything["senders"]) == {"alpha", "beta", "agent-9"}
    assert simulator.stats("nobody")["total_requests"] == 0


def test_max_in_flight_under_concurrency(simulator):
    simulator.configure(latency_ms=1200, callbacks=False)
    barrier = threading.Barrier(12)
    codes = []

    def one(i):
        barrier.wait()
        codes.append(send(simulator, message_from("conc", f"c-{i}")).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = simulator.stats("conc")
    assert codes == [200] * 12
    assert stats["max_in_flight"] == 12 and stats["in_flight"] == 0
    assert stats["max_per_sliding_second"] == 12


def test_per_second_windows_split_by_second(simulator):
    simulator.configure(callbacks=False)
    send(simulator, message_from("w", "w-1"))
    time.sleep(1.05 - time.time() % 1)  # just past the start of the next second: room for two requests
    send(simulator, message_from("w", "w-2"))
    send(simulator, message_from("w", "w-3"))
    windows = simulator.stats("w")["per_second"]
    assert sorted(windows.values()) == [1, 2] and len(windows) == 2


def test_control_endpoints_over_http(simulator):
    url = simulator.url
    changed = requests.post(f"{url}/_sim/config", json={"latency_ms": 5, "error_429": 0.25}, timeout=5)
    assert changed.status_code == 200 and changed.json()["error_429"] == 0.25
    assert requests.get(f"{url}/_sim/config", timeout=5).json()["latency_ms"] == 5
    bad = requests.post(f"{url}/_sim/config", json={"latency": 5}, timeout=5)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "latency"
    share = requests.post(f"{url}/_sim/config", json={"error_500": 2}, timeout=5)
    assert share.status_code == 400 and "between 0 and 1" in share.json()["errors"][0]["reason"]
    simulator.configure(error_429=0.0)
    send(simulator, message_from("http", "h-1"), headers={"X-Trace": "t-1"})
    logged = requests.get(f"{url}/_sim/requests?limit=5", timeout=5).json()
    assert logged[-1]["json"]["msgId"] == "h-1" and logged[-1]["headers"]["x-trace"] == "t-1"
    assert logged[-1]["status"] == 200 and simulator.requests(1)[0]["method"] == "POST"
    stats = requests.get(f"{url}/_sim/stats?sender=http", timeout=5).json()
    assert stats["total_requests"] == 1 and stats["sender_id"] == "http"
    reset = requests.post(f"{url}/_sim/reset", json={"knobs": True}, timeout=5)
    assert reset.json()["knobs"]["latency_ms"] == 0
    assert requests.get(f"{url}/_sim/stats", timeout=5).json()["total_requests"] == 0
    assert requests.get(f"{url}/_sim/requests", timeout=5).json() == []
    assert "generic_rcs_send" in requests.get(f"{url}/", timeout=5).json()["endpoints"]


def test_reset_keeps_knobs_unless_asked(simulator):
    simulator.configure(latency_ms=1)
    simulator.reset()
    assert simulator.knobs().latency_ms == 1
    simulator.reset(knobs=True)
    assert simulator.knobs().latency_ms == 0


def test_template_statuses(simulator):
    url = f"{simulator.url}/templates/status"
    answer = requests.get(url, params={"name": ["spring_sale", "rejected_one"]}, timeout=5).json()
    assert answer["templates"][0] == {"name": "spring_sale", "status": "approved", "reason": ""}
    assert answer["templates"][1]["status"] == "rejected" and answer["templates"][1]["reason"]
    simulator.configure(
        template_statuses={"spring_sale": "pending", "promo": {"status": "rejected", "reason": "URL"}}
    )
    answer = requests.get(url, params={"name": ["spring_sale", "promo"]}, timeout=5).json()
    assert [(t["status"], t["reason"]) for t in answer["templates"]] == [("pending", ""), ("rejected", "URL")]
    assert requests.get(url, timeout=5).status_code == 400
    simulator.configure(auth="basic")
    assert requests.get(url, params={"name": "x"}, timeout=5).status_code == 401
    assert (
        requests.get(url, params={"name": "x"}, auth=("sim-user", "sim-pass"), timeout=5).status_code == 200
    )


def test_template_statuses_unknown_and_error(simulator):
    url = f"{simulator.url}/templates/status"
    simulator.configure(template_statuses={"gone": "unknown", "broken": "error"})
    answer = requests.get(url, params={"name": ["gone", "kept"]}, timeout=5)
    assert answer.json() == {"templates": [{"name": "kept", "status": "approved", "reason": ""}]}
    answer = requests.get(url, params={"name": ["kept", "broken"]}, timeout=5)
    assert answer.status_code == 500 and "broken" in answer.json()["error"]["message"]


def test_bad_knobs_are_refused(simulator):
    from providers.simulator import KnobError

    for bad in (
        {"auth": "digest"},
        {"non_rcs_suffix": "x"},
        {"jiocx_webhooks": {"a": "ftp://x"}},
        {"template_statuses": {"a": "maybe"}},
        {"callback_batch": 0},
        {"latency_ms": -1},
    ):
        with pytest.raises(KnobError):
            simulator.configure(**bad)


def test_several_simulators_run_side_by_side():
    with start_simulator(latency_ms=0) as other:
        assert requests.get(f"{other.url}/_sim/stats", timeout=5).status_code == 200


def test_run_simulator_command_serves_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_simulator", "--port", "0", "--latency-ms", "1", "--auth", "basic"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        assert "Vendor simulator listening on http://127.0.0.1:" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        assert requests.get(f"{url}/_sim/config", timeout=5).json()["auth"] == "basic"
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0, out
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_simulator_command_rejects_bad_knobs():
    result = subprocess.run(
        [sys.executable, "manage.py", "run_simulator", "--port", "0", "--error-500", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "between 0 and 1" in result.stderr


@pytest.mark.django_db
def test_jiocx_webhooks_come_from_providers_pointing_at_the_simulator():
    from providers.management.commands.run_simulator import jiocx_webhooks_for
    from providers.models import Provider

    def jiocx(name, agent, base_url):
        return Provider.objects.create(
            kind="jiocx",
            nickname=name,
            sender_id=agent,
            config={"base_url": base_url},
            secrets={"api_key": "k"},
        )

    ours = jiocx("ours", "agent-a", "http://127.0.0.1:8025/jiocx")
    jiocx("local name", "agent-b", "http://localhost:8025/jiocx/")
    jiocx("elsewhere", "agent-c", "https://api.jiocx.example.com/")
    found = jiocx_webhooks_for(["http://127.0.0.1:8025"])
    assert set(found) == {"agent-a", "agent-b"} and found["agent-a"] == ours.callback_url


def test_webhook_refresh_configures_the_simulator_and_keeps_explicit_ones():
    import asyncio

    from providers.management.commands.run_simulator import refresh_webhooks
    from providers.simulator.server import Simulator

    async def scenario():
        simulator = Simulator()
        simulator.configure(jiocx_webhooks={"explicit": "http://127.0.0.1:1/x"})
        task = asyncio.create_task(
            refresh_webhooks(
                simulator,
                ["http://127.0.0.1:1"],
                every=0.01,
                lookup=lambda urls: {"agent-a": "http://127.0.0.1:2/cb", "explicit": "http://no"},
            )
        )
        await asyncio.sleep(0.05)
        task.cancel()
        return simulator.knobs.jiocx_webhooks

    # In a thread of its own: other tests (the browser ones) may leave an event loop set on this one.
    result = {}
    worker = threading.Thread(target=lambda: result.update(asyncio.run(scenario())))
    worker.start()
    worker.join()
    assert result == {"agent-a": "http://127.0.0.1:2/cb", "explicit": "http://127.0.0.1:1/x"}
