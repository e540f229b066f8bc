"""The outbound address guard: checked on the address actually connected to, and on redirects."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.server
import ipaddress
import json
import threading
import time

import pytest
import requests

from rcsconnect.http import (
    AsyncOutbound,
    BlockedAddressError,
    RedirectRefused,
    is_public_address,
    outbound_session,
    split_allow_entry,
)

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "fe80::1",
    "fd00:ec2::254",
    "64:ff9b::7f00:1",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::1",  # 6to4 around the metadata address
    "2002:c0a8:101::1",
    "::7f00:1",  # IPv4-compatible
    "::a9fe:a9fe",
    "::8.8.8.8",
    "::ffff:0:7f00:1",  # IPv4-translated
    "::ffff:0:808:808",
    "64:ff9b:1::7f00:1",  # local-use NAT64
    "64:ff9b:1::808:808",
    "fec0::1",  # site-local
    "fefe::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::53aa:64c:0:0",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert is_public_address(ipaddress.ip_address(address))


GUARDED_URLS = [
    "http://127.0.0.1:9/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:9/",
    "http://[::ffff:127.0.0.1]:9/",
    "http://[::7f00:1]:9/",
    "http://[::a9fe:a9fe]/latest/meta-data/",
    "https://localhost:9/",  # a host name that resolves to 127.0.0.1
]


@pytest.mark.parametrize("url", GUARDED_URLS)
def test_session_refuses_before_connecting(settings, url):
    settings.OUTBOUND_ALLOW_HOSTS = []
    settings.OUTBOUND_ALLOW_NETWORKS = []
    with pytest.raises(BlockedAddressError):
        outbound_session().get(url)


@pytest.mark.parametrize("url", GUARDED_URLS)
def test_lean_json_path_refuses_what_the_session_refuses(settings, url):
    settings.OUTBOUND_ALLOW_HOSTS = []
    settings.OUTBOUND_ALLOW_NETWORKS = []
    with pytest.raises(BlockedAddressError):
        outbound_session().send_json("POST", url, json={"a": 1})


class _Handler(http.server.BaseHTTPRequestHandler):
    redirect_to: str | None = None

    def do_POST(self):  # noqa: N802 - http.server API
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.server.redirect_to and self.path == "/redirect":
            self.send_response(getattr(self.server, "redirect_status", 307))
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(1)
        length = int(self.headers.get("Content-Length", 0))
        echo = {
            "path": self.path,
            "body": json.loads(self.rfile.read(length) or b"null"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        body = json.dumps(echo).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server API
        self.server.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.server.redirect_to and self.path.split("?")[0] == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.end_headers()
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.redirect_to = None
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def local_server():
    server = _serve()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_origin():
    """A second server: another port of the same host is another origin."""
    server = _serve()
    yield server
    server.shutdown()
    server.server_close()


def test_loopback_allowed_only_when_allow_listed(settings, local_server):
    url = f"http://127.0.0.1:{local_server.server_port}/"
    settings.OUTBOUND_ALLOW_HOSTS = []
    with pytest.raises(BlockedAddressError):
        outbound_session().get(url)

    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    assert outbound_session().get(url).text == "ok"

    settings.OUTBOUND_ALLOW_HOSTS = []
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.0/8"]
    assert outbound_session().get(url).text == "ok"


def test_allow_listed_name_does_not_allow_other_names_on_same_address(settings, local_server):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with pytest.raises(BlockedAddressError):
        outbound_session().get(f"http://localhost:{local_server.server_port}/")


def test_redirect_from_allowed_host_to_private_address_is_refused(settings, local_server):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    local_server.redirect_to = f"http://127.0.0.2:{local_server.server_port}/"
    with pytest.raises(BlockedAddressError):
        outbound_session().get(f"http://127.0.0.1:{local_server.server_port}/redirect")


def test_sessions_ignore_proxy_environment_and_always_time_out(monkeypatch, settings):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    session = outbound_session()
    assert session.trust_env is False
    assert session.default_timeout == (settings.OUTBOUND_CONNECT_TIMEOUT, settings.OUTBOUND_READ_TIMEOUT)


def test_connection_errors_stay_requests_errors(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with pytest.raises(requests.ConnectionError):
        outbound_session().get("http://127.0.0.1:9/")


def test_lean_json_path_answers_like_session_request(settings, local_server):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    session = outbound_session()
    url = f"http://127.0.0.1:{local_server.server_port}/send?x=1"
    payload = {"msgId": "m-1", "text": "Grüße"}
    lean = session.send_json(
        "POST", url, headers={"Authorization": "Bearer t", "content-type": "application/json"}, json=payload
    )
    full = session.request("POST", url, headers={"Authorization": "Bearer t"}, json=payload)
    assert lean.status_code == full.status_code == 202
    assert lean.headers["x-echo"] == "yes" and lean.encoding == full.encoding == "utf-8"
    assert lean.json() == full.json()
    seen = lean.json()
    assert seen["path"] == "/send?x=1" and seen["body"] == payload
    assert seen["headers"]["authorization"] == "Bearer t"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["user-agent"] == "rcsconnect/0.1"


def test_lean_json_path_raises_requests_errors(settings, local_server):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with pytest.raises(requests.ConnectionError) as refused:
        outbound_session().send_json("POST", "http://127.0.0.1:9/", json={})
    assert not isinstance(refused.value, requests.Timeout)
    slow = outbound_session(timeout=(2.0, 0.2))
    with pytest.raises(requests.ReadTimeout):
        slow.send_json("POST", f"http://127.0.0.1:{local_server.server_port}/slow", json={})


# -- the engine's asyncio session (rcsconnect.http.AsyncOutbound) --------------------------------------
def _async_send(url: str, *, session=None, headers=None, json=None, follow=False):
    """One request through AsyncOutbound on a fresh loop in a thread of its own, as the sending
    engine makes it (this thread may already run a loop: Playwright's sync API leaves one)."""

    async def send():
        client = AsyncOutbound(session or outbound_session(), limit=4)
        try:
            return await client.send_json("POST", url, headers=headers, json=json, follow_redirects=follow)
        finally:
            await client.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, send()).result()


@pytest.mark.parametrize("url", GUARDED_URLS)
def test_async_path_refuses_what_the_session_refuses(settings, url):
    settings.OUTBOUND_ALLOW_HOSTS = []
    settings.OUTBOUND_ALLOW_NETWORKS = []
    with pytest.raises(BlockedAddressError):
        _async_send(url, json={"a": 1})


def test_async_path_allows_only_what_is_allow_listed(settings, local_server):
    port = local_server.server_port
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    assert _async_send(f"http://127.0.0.1:{port}/", json={}).status_code == 202
    with pytest.raises(BlockedAddressError):  # the same address under another name
        _async_send(f"http://localhost:{port}/", json={})
    settings.OUTBOUND_ALLOW_HOSTS = []
    settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.0/8"]
    assert _async_send(f"http://localhost:{port}/", json={}).status_code == 202


def test_async_path_answers_like_session_request(settings, local_server):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    url = f"http://127.0.0.1:{local_server.server_port}/send?x=1"
    payload = {"msgId": "m-1", "text": "Grüße"}
    answer = _async_send(url, headers={"Authorization": "Bearer t"}, json=payload)
    full = outbound_session().request("POST", url, headers={"Authorization": "Bearer t"}, json=payload)
    assert isinstance(answer, requests.Response)
    assert answer.status_code == full.status_code == 202
    assert answer.headers["x-echo"] == "yes" and answer.encoding == full.encoding == "utf-8"
    seen = answer.json()
    assert (seen["path"], seen["body"]) == (full.json()["path"], full.json()["body"])
    assert seen["path"] == "/send?x=1" and seen["body"] == payload
    assert seen["headers"]["authorization"] == "Bearer t"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["user-agent"] == "rcsconnect/0.1"


def _lean_send(url: str, *, headers=None, json=None, follow=False):
    return outbound_session().send_json("POST", url, headers=headers, json=json, follow_redirects=follow)


SENDERS = pytest.mark.parametrize("send", [_lean_send, _async_send], ids=["lean_json_path", "async_path"])
CREDENTIALS = {"x-apikey": "k-secret", "Authorization": "Bearer t-secret", "X-Custom": "c-secret"}


@SENDERS
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_json_paths_refuse_redirects_once_naming_the_target(
    settings, local_server, other_origin, send, status
):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    target = f"http://127.0.0.1:{other_origin.server_port}/elsewhere"
    local_server.redirect_to, local_server.redirect_status = target, status
    with pytest.raises(RedirectRefused) as refused:
        send(f"http://127.0.0.1:{local_server.server_port}/redirect", headers=CREDENTIALS, json={"n": 1})
    assert target in str(refused.value) and str(status) in str(refused.value)
    assert [(m, p) for m, p, _h in local_server.seen] == [("POST", "/redirect")]  # sent once
    assert other_origin.seen == []


@SENDERS
def test_followed_redirect_keeps_credentials_on_the_origin_only(settings, local_server, other_origin, send):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    port = local_server.server_port
    local_server.redirect_to = f"http://127.0.0.1:{port}/moved"
    answer = send(f"http://127.0.0.1:{port}/redirect", headers=CREDENTIALS, json={"n": 1}, follow=True)
    assert (
        answer.status_code == 202 and answer.json()["path"] == "/moved" and answer.json()["body"] == {"n": 1}
    )
    assert [p for _m, p, _h in local_server.seen] == ["/redirect", "/moved"]
    assert local_server.seen[1][2]["x-apikey"] == "k-secret"  # same origin: headers kept

    local_server.seen.clear()
    local_server.redirect_to = f"http://127.0.0.1:{other_origin.server_port}/there"
    answer = send(f"http://127.0.0.1:{port}/redirect", headers=CREDENTIALS, json={"n": 2}, follow=True)
    assert answer.json()["body"] == {"n": 2} and len(local_server.seen) == 1
    [(method, path, headers)] = other_origin.seen
    assert (method, path) == ("POST", "/there")
    assert not {"x-apikey", "authorization", "x-custom"} & set(headers)
    assert "secret" not in json.dumps(headers)

    local_server.redirect_to = f"http://127.0.0.2:{port}/"
    with pytest.raises(BlockedAddressError):
        send(f"http://127.0.0.1:{port}/redirect", json={"n": 1}, follow=True)


@SENDERS
def test_followed_303_becomes_a_get_without_body(settings, local_server, send):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    local_server.redirect_to, local_server.redirect_status = "/done", 303
    answer = send(f"http://127.0.0.1:{local_server.server_port}/redirect", json={"n": 1}, follow=True)
    assert answer.status_code == 200 and answer.text == "ok"
    assert [(m, p) for m, p, _h in local_server.seen] == [("POST", "/redirect"), ("GET", "/done")]


def test_redirect_loop_ends(settings, local_server):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    local_server.redirect_to = "/redirect"
    with pytest.raises(RedirectRefused, match="more than"):
        _lean_send(f"http://127.0.0.1:{local_server.server_port}/redirect", json={}, follow=True)
    assert len(local_server.seen) == 6


def test_async_path_raises_requests_errors_and_times_out(settings, local_server, monkeypatch):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")  # ignored, as by outbound_session
    with pytest.raises(requests.ConnectionError) as refused:
        _async_send("http://127.0.0.1:9/", json={})
    assert not isinstance(refused.value, requests.Timeout)
    with pytest.raises(requests.ReadTimeout):
        _async_send(
            f"http://127.0.0.1:{local_server.server_port}/slow",
            session=outbound_session(timeout=(2.0, 0.2)),
            json={},
        )
    assert _async_send(f"http://127.0.0.1:{local_server.server_port}/", json={}).status_code == 202


# -- allow-list entries naming a port ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("127.0.0.1:8025", ("127.0.0.1", 8025)),
        ("LocalHost.", ("localhost", None)),
        ("::1", ("::1", None)),
        ("[::1]:8025", ("::1", 8025)),
        ("[::1]", ("::1", None)),
    ],
)
def test_allow_entries_name_a_host_and_maybe_a_port(entry, parsed):
    assert split_allow_entry(entry) == parsed


@pytest.mark.parametrize("entry", ["127.0.0.1:http", "127.0.0.1:0", "[::1]:70000"])
def test_an_allow_entry_with_a_bad_port_is_a_configuration_error(settings, entry):
    from rcsconnect.checks import check_outbound_allow_list

    settings.OUTBOUND_ALLOW_HOSTS = [entry]
    errors = check_outbound_allow_list(None)
    assert [e.id for e in errors] == ["rcs.E002"] and "port" in errors[0].msg


def test_an_entry_with_a_port_lets_through_that_port_only(settings, local_server):
    port = local_server.server_port
    settings.OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{port}"]
    assert outbound_session().get(f"http://127.0.0.1:{port}/").text == "ok"
    assert _async_send(f"http://127.0.0.1:{port}/", json={}).status_code == 202
    settings.OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{port + 1 if port < 65535 else port - 1}"]
    with pytest.raises(BlockedAddressError):
        outbound_session().get(f"http://127.0.0.1:{port}/")
    with pytest.raises(BlockedAddressError):
        _async_send(f"http://127.0.0.1:{port}/", json={})


def test_vendor_url_check_reads_the_port_of_an_entry(settings):
    from providers.validation import check_vendor_url

    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:8025"]
    settings.OUTBOUND_ALLOW_NETWORKS = []
    assert check_vendor_url("http://127.0.0.1:8025/rcs") is None
    assert check_vendor_url("http://127.0.0.1:8026/rcs") == "Use an https:// URL."
    assert check_vendor_url("https://127.0.0.1/rcs") is not None  # port 443: not allow-listed
    assert check_vendor_url("https://localhost/rcs") is not None


def test_the_quick_start_env_allow_lists_only_the_simulator(tmp_path):
    from rcsconnect.envfile import SIMULATOR_PORT, write_env

    assert write_env(tmp_path / ".env")
    lines = (tmp_path / ".env").read_text().splitlines()
    assert [line for line in lines if line.startswith("OUTBOUND_ALLOW_HOSTS=")] == [
        f"OUTBOUND_ALLOW_HOSTS=127.0.0.1:{SIMULATOR_PORT}"
    ]


def test_token_request_does_not_follow_a_redirect(settings, local_server, other_origin):
    from providers.auth import AuthError, fetch_token
    from providers.models import Provider

    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    local_server.redirect_to = f"http://127.0.0.1:{other_origin.server_port}/token"
    provider = Provider(
        kind="generic_rcs",
        config={"client_url": f"http://127.0.0.1:{local_server.server_port}/redirect", "client_id": "cid"},
        secrets={"client_secret": "cs-secret"},
    )
    with pytest.raises(AuthError, match="Redirect"):
        fetch_token(provider, outbound_session())
    assert len(local_server.seen) == 1 and other_origin.seen == []


def test_template_status_request_does_not_follow_a_redirect(settings, local_server, other_origin):
    from providers.kinds.base import TemplateStatusError
    from providers.models import Provider

    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    target = f"http://127.0.0.1:{other_origin.server_port}/elsewhere"
    local_server.redirect_to = target
    provider = Provider(
        kind="generic_rcs",
        config={
            "auth_type": "none",
            "template_status_url": f"http://127.0.0.1:{local_server.server_port}/redirect",
            "headers": [{"name": "X-Api-Token", "value": "", "secret": True}],
        },
        secrets={"header:x-api-token": "tok-secret"},
    )
    with pytest.raises(TemplateStatusError, match="elsewhere"):
        provider.kind_class(provider).template_statuses(outbound_session(), ["a"])
    assert len(local_server.seen) == 1 and local_server.seen[0][2]["x-api-token"] == "tok-secret"
    assert other_origin.seen == []
