"""The simulated vendor: routes, authentication, faults, contract checks, and what a send sets off."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import itertools
import random
import secrets
import time
from collections import deque
from typing import Any

from . import generic, jiocx
from .checks import MAX_BODY_BYTES
from .delivery import Dispatcher
from .httpserver import Request, Response
from .knobs import (
    BASIC_PASSWORD,
    BASIC_USER,
    KNOB_NAMES,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    TEMPLATE_ERROR,
    TEMPLATE_UNKNOWN,
    KnobError,
    Knobs,
    template_status,
)
from .stats import Counter, Stats

GENERIC_PATH = "/generic/messages"
JIOCX_PATH = "/jiocx/api/v1/sendMessage"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path
TEMPLATES_PATH = "/templates/status"
FAILURE_MESSAGES = {
    2000: "Invalid credentials",
    2001: "Template parameters do not match",
    2002: "Invalid phone number",
    2003: "Recipient is not subscribed",
    2004: "Message could not be processed",
}
_BAD_JSON = object()


class Simulator:
    """All state of one simulated vendor; every method runs on its event loop thread."""

    def __init__(self, knobs: Knobs | None = None):
        self.defaults = knobs or Knobs()
        self.knobs = self.defaults
        self.stats = Stats()
        self.tokens: dict[str, float] = {}  # bearer token -> monotonic expiry
        self.log: deque[dict[str, Any]] = deque(maxlen=500)
        self.dispatcher = Dispatcher(self.stats, self.knobs)
        self.rng = random.Random()  # noqa: S311 - simulation, not security
        # Vendor message ids: a counter from a random start (unique in a run, and across runs in practice);
        # a uuid4 per answer cost a system call (os.urandom) on every send.
        self.vendor_ids = itertools.count(secrets.randbits(63))
        self.routes = {
            ("POST", GENERIC_PATH): self.send_generic,
            ("PUT", GENERIC_PATH): self.send_generic,
            ("POST", JIOCX_PATH): self.send_jiocx,
            ("POST", TOKEN_PATH): self.token,
            ("GET", TEMPLATES_PATH): self.template_statuses,
            ("GET", "/_sim/stats"): lambda r: Response.json(self.stats_for(_one(r, "sender"))),
            ("POST", "/_sim/reset"): self.reset_endpoint,
            ("GET", "/_sim/config"): lambda r: Response.json(self.knobs.public()),
            ("POST", "/_sim/config"): self.config_endpoint,
            ("GET", "/_sim/requests"): lambda r: Response.json(self.requests(_limit(r))),
            ("GET", "/_sim/callbacks"): lambda r: Response.json(self.callbacks(_limit(r))),
            ("GET", "/"): self.index,
        }
        self._paths = {path for _, path in self.routes}

    # -- control -----------------------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        self.knobs = self.knobs.updated(changes)
        self.dispatcher.knobs = self.knobs
        return self.knobs.public()

    def reset(self, *, knobs: bool = False) -> None:
        """Forget measurements, logs and pending callbacks (and restore the start-up knobs if asked)."""
        self.stats.__init__()
        self.log.clear()
        self.dispatcher.cancel_pending()
        if knobs:
            self.knobs = self.defaults
            self.dispatcher.knobs = self.knobs

    def stats_for(self, sender: str | None = None) -> dict[str, Any]:
        return self.stats.as_dict(sender)

    def requests(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.log)[-limit:] if limit else []

    def callbacks(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.dispatcher.log)[-limit:] if limit else []

    # -- dispatch ----------------------------------------------------------------------------------
    def __call__(self, request: Request) -> Response | Any:
        route = self.routes.get((request.method, request.path))
        if route is not None:
            return route(request)
        if request.path in self._paths:
            return _error(405, "", f"method {request.method} not allowed on {request.path}")
        return _error(404, "", f"no such endpoint: {request.path}")

    def _record(self, request: Request, body: Any) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "headers": dict(request.headers),
            "json": None if body is _BAD_JSON else body,
            "at": time.time(),
            "status": None,
        }
        if body is _BAD_JSON:
            entry["body"] = request.body.decode("utf-8", "replace")[:10_000]
        self.log.append(entry)
        return entry

    # -- send endpoints ----------------------------------------------------------------------------
    def send_generic(self, request: Request) -> Response | Any:
        body = _json(request)
        msg_id = body.get("msgId") if isinstance(body, dict) and isinstance(body.get("msgId"), str) else None
        return self._send(request, "generic", body, generic.sender_of(body), msg_id)

    def send_jiocx(self, request: Request) -> Response | Any:
        body = _json(request)
        return self._send(request, "jiocx", body, jiocx.sender_of(body), jiocx.msg_id_of(body))

    def _send(self, request: Request, api: str, body: Any, sender: str, msg_id: str | None):
        counter = self.stats.begin(sender, msg_id)
        entry = self._record(request, body)
        knobs = self.knobs
        delay = knobs.latency_ms / 1000.0
        if knobs.jitter_ms:
            delay += self.rng.uniform(0, knobs.jitter_ms / 1000.0)
        fault = self._roll(knobs)
        if delay <= 0 and fault != "timeout" and not (knobs.early_callbacks and knobs.callbacks):
            status: int | str = 500
            try:
                response, _ = self._answer(request, api, body, fault, counter, early=False)
                status = response.status if response.action is None else response.action
                return response
            finally:
                entry["status"] = status
                self.stats.end(counter, status)
        return self._send_later(request, api, body, fault, counter, delay, entry)

    async def _send_later(self, request, api, body, fault, counter: Counter, delay: float, entry) -> Response:
        status: int | str = "dropped"  # the client went away before the answer
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            if fault == "timeout":
                await asyncio.sleep(self.knobs.timeout_hold_ms / 1000.0)
                status = "timeout"
                return Response(action="close")
            response, early = self._answer(request, api, body, fault, counter, early=True)
            if early is not None:
                await asyncio.wait([early], timeout=10)
            status = response.status if response.action is None else response.action
            return response
        finally:
            entry["status"] = status
            self.stats.end(counter, status)

    def _roll(self, knobs: Knobs) -> str | None:
        if not (knobs.error_500 or knobs.error_429 or knobs.timeout or knobs.reset or knobs.failure_200):
            return None
        draw = self.rng.random()
        for name, share in (
            ("500", knobs.error_500),
            ("429", knobs.error_429),
            ("timeout", knobs.timeout),
            ("reset", knobs.reset),
            ("failure", knobs.failure_200),
        ):
            if draw < share:
                return name
            draw -= share
        return None

    def _answer(self, request, api, body, fault, counter, *, early: bool) -> tuple[Response, Any]:
        """Authenticate, validate, apply the fault, accept: the answer to one send request."""
        denied = self._check_jiocx_key(request) if api == "jiocx" else self._check_auth(request)
        if denied is not None:
            return denied, None
        if body is _BAD_JSON:
            return _error(400, "", "the body is not valid JSON"), None
        if not request.headers.get("content-type", "").lower().startswith("application/json"):
            return _error(400, "headers.Content-Type", "must be application/json"), None
        if len(request.body) > MAX_BODY_BYTES:
            return _error(
                400, "", f"the whole message is at most 250 KB (got {len(request.body)} bytes)"
            ), None
        if api == "jiocx":
            problems, messages = jiocx.validate_send(body)
        else:
            problems, message = generic.validate_send(body)
            messages = [message] if message is not None else []
        if problems:
            return _invalid(problems.items), None
        if fault == "500":
            return _error(500, "", "simulated internal error"), None
        if fault == "429":
            after = self.knobs.retry_after
            return _error(
                429, "", "simulated throttling", [("Retry-After", str(after))] if after else []
            ), None
        if fault == "reset":
            return Response(action="reset"), None
        code = (
            2002
            if self._invalid_number(messages)
            else self.knobs.failure_code
            if fault == "failure"
            else None
        )
        if code is not None:
            error = {"code": code, "message": FAILURE_MESSAGES.get(code, "Simulated failure")}
            return Response.json({"status": "failure", "error": error}), None
        first_time = self.stats.accept(counter, messages[0].msg_id)
        early_future = None
        if first_time and self.knobs.callbacks:
            for message in messages:
                future = self.dispatcher.schedule(message, early=early and self.knobs.early_callbacks)
                early_future = early_future or future
        vendor_id = f"sim-{next(self.vendor_ids) & 0xFFFF_FFFF_FFFF_FFFF:016x}"
        return Response.json({"status": "success", "messageId": vendor_id}), early_future

    def _invalid_number(self, messages) -> bool:
        suffix = self.knobs.invalid_suffix
        return bool(suffix) and any(m.to.endswith(suffix) for m in messages)

    # -- authentication ----------------------------------------------------------------------------
    def _check_auth(self, request: Request) -> Response | None:
        mode = self.knobs.auth
        if mode == "none":
            return None
        header = request.headers.get("authorization", "")
        if mode == "basic":
            if _basic_matches(header, BASIC_USER, BASIC_PASSWORD):
                return None
            return _error(
                401,
                "headers.Authorization",
                "HTTP Basic credentials missing or wrong",
                [("WWW-Authenticate", 'Basic realm="simulator"')],
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _error(
                401,
                "headers.Authorization",
                "a Bearer token is required",
                [("WWW-Authenticate", 'Bearer realm="simulator"')],
            )
        expiry = self.tokens.get(token.strip())
        if expiry is None or expiry <= time.monotonic():
            reason = "the access token has expired" if expiry is not None else "unknown access token"
            return _error(
                401, "headers.Authorization", reason, [("WWW-Authenticate", 'Bearer error="invalid_token"')]
            )
        return None

    def _check_jiocx_key(self, request: Request) -> Response | None:
        key = request.headers.get("x-apikey", "")
        if key and hmac.compare_digest(key.encode(), self.knobs.jiocx_api_key.encode()):
            return None
        return _error(401, "headers.x-apikey", "missing or wrong API key")

    def token(self, request: Request) -> Response:
        self.stats.token_requests += 1
        entry = self._record(request, {k: v[-1] for k, v in request.form().items()})
        response = self._token(request)
        entry["status"] = response.status
        return response

    def _token(self, request: Request) -> Response:
        knobs = self.knobs
        if knobs.token_error_500 and self.rng.random() < knobs.token_error_500:
            return Response.json({"error": "server_error"}, 500)
        form = {k: v[-1] for k, v in request.form().items()}
        header = request.headers.get("authorization", "")
        by_header = _basic_matches(header, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET)
        by_form = form.get("client_id") == OAUTH_CLIENT_ID and hmac.compare_digest(
            form.get("client_secret", "").encode(), OAUTH_CLIENT_SECRET.encode()
        )
        if not (by_header or by_form):
            return Response.json(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                401,
                [("WWW-Authenticate", 'Basic realm="simulator"')],
            )
        if form.get("grant_type") != "client_credentials":
            description = "grant_type must be client_credentials"
            return Response.json({"error": "unsupported_grant_type", "error_description": description}, 400)
        now = time.monotonic()
        if len(self.tokens) > 10_000:
            self.tokens = {t: e for t, e in self.tokens.items() if e > now}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = now + knobs.token_expires_in
        self.stats.tokens_issued += 1
        return Response.json(
            {"access_token": token, "token_type": "Bearer", "expires_in": knobs.token_expires_in},
            headers=[("Cache-Control", "no-store")],
        )

    # -- templates ---------------------------------------------------------------------------------
    def template_statuses(self, request: Request) -> Response:
        entry = self._record(request, None)
        denied = self._check_auth(request)
        if denied is not None:
            entry["status"] = 401
            return denied
        names = [n for n in request.query().get("name", []) if n]
        if not names:
            entry["status"] = 400
            return _error(400, "name", "give at least one template name: ?name=a&name=b")
        answers = [template_status(self.knobs, name) for name in names]
        if broken := [a["name"] for a in answers if a["status"] == TEMPLATE_ERROR]:
            entry["status"] = 500
            return _error(500, "name", f"simulated internal error for template {broken[0]!r}")
        entry["status"] = 200
        return Response.json({"templates": [a for a in answers if a["status"] != TEMPLATE_UNKNOWN]})

    # -- control endpoints -------------------------------------------------------------------------
    def reset_endpoint(self, request: Request) -> Response:
        body = _json(request) if request.body else {}
        self.reset(knobs=isinstance(body, dict) and bool(body.get("knobs")))
        return Response.json({"status": "reset", "knobs": self.knobs.public()})

    def config_endpoint(self, request: Request) -> Response:
        body = _json(request)
        if not isinstance(body, dict):
            return _error(400, "", "send a JSON object of knobs")
        try:
            return Response.json(self.configure(**body))
        except KnobError as exc:
            name = str(exc).split(":", 1)[0]
            return _error(400, name, str(exc).split(": ", 1)[-1])

    def index(self, request: Request) -> Response:
        return Response.json(
            {
                "simulator": "rcsconnect local vendor simulator",
                "endpoints": {
                    "generic_rcs_send": f"POST|PUT {GENERIC_PATH}",
                    "jiocx_send": f"POST {JIOCX_PATH} (x-apikey)",
                    "oauth_token": f"POST {TOKEN_PATH} (client credentials, HTTP Basic client auth)",
                    "template_status": f"GET {TEMPLATES_PATH}?name=a&name=b",
                    "control": [
                        "GET /_sim/stats",
                        "POST /_sim/reset",
                        "GET|POST /_sim/config",
                        "GET /_sim/requests",
                        "GET /_sim/callbacks",
                    ],
                },
                "knobs": self.knobs.public(),
                "known_knobs": list(KNOB_NAMES),
                "totals": {
                    k: v for k, v in self.stats.as_dict().items() if k != "per_second" and k != "senders"
                },
            }
        )


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return _BAD_JSON


def _error(status: int, field: str, reason: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return _invalid([{"field": field, "reason": reason}], status, headers)


def _invalid(errors: list[dict[str, str]], status: int = 400, headers=None) -> Response:
    """A 4xx/5xx answer: `error` like a 200 failure (code + message), `errors` lists every problem."""
    first = errors[0]
    message = f"{first['field']}: {first['reason']}" if first["field"] else first["reason"]
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    body = {"status": "failure", "error": {"code": status, "message": message}, "errors": errors}
    return Response.json(body, status, headers)


def _basic_matches(header: str, user: str, password: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, f"{user}:{password}".encode())


def _one(request: Request, name: str) -> str | None:
    values = request.query().get(name)
    return values[-1] if values else None


def _limit(request: Request) -> int:
    try:
        return max(0, min(int(_one(request, "limit") or 50), 500))
    except ValueError:
        return 50
