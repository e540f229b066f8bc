"""Authentication (Basic, OAuth 2.0 client credentials, JioCX key) and the fault knobs of the send API."""

from __future__ import annotations

import time

import pytest
import requests

from providers.simulator import BASIC_PASSWORD, BASIC_USER, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET

from .helpers import send, text_message


def token(simulator, auth=(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET), grant="client_credentials", **form):
    return requests.post(
        f"{simulator.url}/oauth/token", data={"grant_type": grant, **form}, auth=auth, timeout=5
    )


def test_basic_auth(simulator):
    simulator.configure(auth="basic")
    assert send(simulator, text_message(), auth=(BASIC_USER, BASIC_PASSWORD)).status_code == 200
    wrong = send(simulator, text_message(), auth=(BASIC_USER, "nope"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert send(simulator, text_message()).status_code == 401


def test_oauth_client_credentials_and_bearer(simulator):
    simulator.configure(auth="oauth", token_expires_in=120)
    answer = token(simulator, scope="send", audience="rcs")  # extra pairs are allowed
    assert answer.status_code == 200
    data = answer.json()
    assert data["token_type"] == "Bearer" and data["expires_in"] == 120
    bearer = {"Authorization": f"Bearer {data['access_token']}"}
    assert send(simulator, text_message(), headers=bearer).status_code == 200
    unknown = send(simulator, text_message(), headers={"Authorization": "Bearer made-up"})
    assert unknown.status_code == 401 and "unknown access token" in unknown.json()["error"]["message"]
    assert send(simulator, text_message()).status_code == 401
    assert simulator.stats()["tokens_issued"] == 1
    form = simulator.requests()[0]
    assert form["path"] == "/oauth/token" and form["json"]["scope"] == "send"


def test_client_secret_in_the_form_is_accepted_too(simulator):
    answer = token(simulator, auth=None, client_id=OAUTH_CLIENT_ID, client_secret=OAUTH_CLIENT_SECRET)
    assert answer.status_code == 200


def test_expired_token_is_refused(simulator):
    simulator.configure(auth="oauth", token_expires_in=0)
    access = token(simulator).json()["access_token"]
    expired = send(simulator, text_message(), headers={"Authorization": f"Bearer {access}"})
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


def test_bad_client_credentials_and_grant(simulator):
    bad = token(simulator, auth=(OAUTH_CLIENT_ID, "wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert token(simulator, auth=None).status_code == 401
    grant = token(simulator, grant="password")
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    assert simulator.stats()["token_requests"] == 3


def test_token_endpoint_errors(simulator):
    simulator.configure(token_error_500=1.0)
    assert token(simulator).status_code == 500


def test_latency_and_jitter(simulator):
    simulator.configure(latency_ms=150, jitter_ms=50)
    started = time.monotonic()
    assert send(simulator, text_message()).status_code == 200
    assert time.monotonic() - started >= 0.15


def test_error_500(simulator):
    simulator.configure(error_500=1.0)
    response = send(simulator, text_message())
    assert response.status_code == 500
    assert simulator.stats()["responses"] == {"500": 1}


def test_error_429_with_retry_after(simulator):
    simulator.configure(error_429=1.0, retry_after=3)
    response = send(simulator, text_message())
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"


def test_timeout_holds_the_request(simulator):
    simulator.configure(timeout=1.0, timeout_hold_ms=3000)
    with pytest.raises(requests.ReadTimeout):
        send(simulator, text_message(), timeout=(2, 0.3))
    # The held request counts as in flight until the client gives up.
    deadline = time.monotonic() + 3
    while simulator.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert simulator.stats()["in_flight"] == 0 and simulator.stats()["accepted"] == 0


def test_reset_closes_the_connection(simulator):
    simulator.configure(reset=1.0)
    with pytest.raises(requests.ConnectionError):
        send(simulator, text_message())
    assert simulator.stats()["responses"] == {"reset": 1}


def test_failure_200_with_code(simulator):
    simulator.configure(failure_200=1.0, failure_code=2003)
    response = send(simulator, text_message())
    assert response.status_code == 200
    assert response.json() == {
        "status": "failure",
        "error": {"code": 2003, "message": "Recipient is not subscribed"},
    }


def test_invalid_number_rule(simulator):
    simulator.configure(invalid_suffix="99")
    assert send(simulator, text_message(to="+4915112345699")).json()["error"]["code"] == 2002
    assert send(simulator, text_message(to="+4915112345698")).json()["status"] == "success"


def test_shares_mix_faults(simulator):
    simulator.configure(error_500=0.5, callbacks=False)
    codes = [send(simulator, text_message(msg_id=f"m-{i}")).status_code for i in range(60)]
    assert 0 < codes.count(500) < 60 and codes.count(500) + codes.count(200) == 60


def test_auth_is_checked_before_validation(simulator):
    simulator.configure(auth="basic")
    assert send(simulator, {"bad": True}).status_code == 401
