"""Outbound HTTP: one factory for every request the product makes to a vendor.

Vendor URLs are typed in by users, so every connection goes through an address guard: the host
name is resolved, each address is checked, and the socket is opened to a checked address (never
re-resolved), then the peer address is checked again. Redirects of vendor JSON requests are not
followed unless the provider opts in (`Hops`); followed hops open new connections through the same
guard. Operators lift the guard for named hosts or networks with `OUTBOUND_ALLOW_HOSTS` /
`OUTBOUND_ALLOW_NETWORKS` (the local vendor simulator lives on loopback).

Two kinds of session come from here: `outbound_session` (requests, blocking: Send Test, token
requests, template sync, checks) and `AsyncOutbound` (aiohttp on an asyncio loop: the sending
engine, which keeps up to a provider's concurrency of requests in flight on one thread). Both
apply the same guard, timeouts and TLS verification, ignore proxy settings from the environment,
and answer with `requests.Response` objects or requests' exception types.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import aiohttp
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import Timeout, parse_url
from urllib3.util.connection import _set_socket_options
from urllib3.util.timeout import _DEFAULT_TIMEOUT

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Addresses `is_global` does not cover on its own: cloud metadata services and IPv6 forms that
# carry an IPv4 address inside.
_ALWAYS_BLOCKED = [
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, OpenStack metadata
    ipaddress.ip_network("192.0.0.192/32"),  # Oracle Cloud metadata
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    # IPv6 forms that reach IPv4 (or a site) by other means; `is_global` calls them global.
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated, RFC 4291): ::7f00:1 is 127.0.0.1
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT, RFC 2765; ::ffff:0:0/96 is mapped)
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): translator's own choice
    ipaddress.ip_network("fec0::/10"),  # site-local (deprecated, RFC 3879)
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddressError(Exception):
    """The destination resolves to an address outbound requests may not reach."""

    def __init__(self, host: str, address: str | None = None):
        self.host = host
        self.address = address
        where = f"{host} ({address})" if address and address != host else host
        super().__init__(f"Refused to connect to {where}: private, loopback or reserved address.")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    return None


def is_public_address(ip: IPAddress) -> bool:
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_public_address(inner)
    if any(ip in net for net in _ALWAYS_BLOCKED if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def split_allow_entry(entry: str) -> tuple[str, int | None]:
    """An OUTBOUND_ALLOW_HOSTS entry as (host, port): `host`, `host:port`, `[v6]:port` or a bare IPv6
    address (its colons are not a port). Raises ValueError for a port that is not a number."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:
        host, port = entry, ""
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return host.rstrip("."), int(port) if port else None


@dataclass(frozen=True)
class AllowList:
    # (host, None) lets a host through on every port, (host, port) on that port only.
    hosts: frozenset[tuple[str, int | None]]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def from_settings(cls) -> AllowList:
        return cls.build(tuple(settings.OUTBOUND_ALLOW_HOSTS), tuple(settings.OUTBOUND_ALLOW_NETWORKS))

    @classmethod
    @lru_cache(maxsize=8)
    def build(cls, hosts: tuple[str, ...], networks: tuple[str, ...]) -> AllowList:
        return cls(
            hosts=frozenset(split_allow_entry(h) for h in hosts if h.strip()),
            networks=tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()),
        )

    def names(self, host: str, port: int | None) -> bool:
        """Whether an entry names this host (on every port, or on `port`)."""
        host = host.lower().rstrip(".").strip("[]")
        return (host, None) in self.hosts or (port is not None and (host, port) in self.hosts)

    def permits(self, host: str, ip: IPAddress, port: int | None = None) -> bool:
        if self.names(host, port):
            return True
        candidates = [ip] + ([inner] if (inner := embedded_ipv4(ip)) else [])
        return any(c in net for c in candidates for net in self.networks if net.version == c.version)


def address_allowed(
    host: str, ip: IPAddress, allow: AllowList | None = None, port: int | None = None
) -> bool:
    allow = allow or AllowList.from_settings()
    return is_public_address(ip) or allow.permits(host, ip, port)


def check_host(host: str, port: int = 443) -> list[str]:
    """Resolve `host` and return its addresses; raise BlockedAddressError if none may be reached."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    allow = AllowList.from_settings()
    addresses = [info[4][0] for info in infos]
    permitted = [
        a for a in addresses if address_allowed(host, ipaddress.ip_address(a.split("%")[0]), allow, port)
    ]
    if not permitted:
        raise BlockedAddressError(host, addresses[0] if addresses else None)
    return permitted


def _guarded_create_connection(conn: HTTPConnection) -> socket.socket:
    host = conn._dns_host
    allow = AllowList.from_settings()
    infos = socket.getaddrinfo(host, conn.port, type=socket.SOCK_STREAM)
    last_error: OSError | None = None
    refused: str | None = None
    for family, socktype, proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not address_allowed(host, ip, allow, conn.port):
            refused = refused or str(ip)
            continue
        sock = socket.socket(family, socktype, proto)
        try:
            _set_socket_options(sock, conn.socket_options)
            if conn.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(conn.timeout)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(sockaddr)
            peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
            if not address_allowed(host, peer, allow, conn.port):
                sock.close()
                raise BlockedAddressError(host, str(peer))
            return sock
        except OSError as exc:
            last_error = exc
            sock.close()
    if last_error is not None:
        raise last_error
    raise BlockedAddressError(host, refused)


def _guarded_new_conn(conn: HTTPConnection) -> socket.socket:
    try:
        return _guarded_create_connection(conn)
    except BlockedAddressError:
        raise
    except TimeoutError as exc:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc


class GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)


class GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


class OutboundSession(requests.Session):
    """A requests session whose every call has a timeout."""

    default_timeout: tuple[float, float]

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)

    def send_json(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        follow_redirects: bool = False,
    ) -> requests.Response:
        """One JSON request on the session's own guarded pools, without requests' per-call machinery.

        The dispatch loop sends thousands of requests a second; `Session.request` spends most of its
        time preparing and merging settings this session never uses (cookies, proxies, hooks, auth,
        environment). This path uses the same connection pools (so the same address guard and TLS
        verification), the session's headers and timeouts, and answers with a `requests.Response`
        and requests' exception types. A redirect raises `RedirectRefused` unless `follow_redirects`
        (see `Hops`): the request is sent once per hop, never twice to the same hop.
        """
        body, own_headers = _json_body(json, headers)
        hops = Hops(url, method, body, own_headers)
        while True:
            answer = self._urlopen(hops.method, hops.url, hops.body, {**self.headers, **hops.headers})
            location = answer.get_redirect_location()
            if not location:
                return _response(hops.url, answer.status, answer.headers, answer.reason, answer.data)
            hops.follow(answer.status, location, allowed=follow_redirects)

    def _urlopen(self, method: str, url: str, body: bytes | None, headers: dict[str, Any]) -> Any:
        adapter = self.get_adapter(url)
        target = requests.PreparedRequest()
        target.url = url
        pool = adapter.get_connection_with_tls_context(target, verify=self.verify, proxies=None, cert=None)
        connect, read = self.default_timeout
        try:
            return pool.urlopen(
                method,
                parse_url(url).request_uri,
                body=body,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=True,
                retries=False,
                timeout=Timeout(connect=connect, read=read),
            )
        except BlockedAddressError:
            raise
        except NewConnectionError as exc:  # a subclass of ConnectTimeoutError in urllib3, checked first
            raise requests.ConnectionError(exc) from exc
        except ConnectTimeoutError as exc:
            raise requests.ConnectTimeout(exc) from exc
        except ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from exc
        except Urllib3SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        except (ProtocolError, OSError, Urllib3Error) as exc:
            raise requests.ConnectionError(exc) from exc


MAX_REDIRECTS = 5


class RedirectRefused(requests.RequestException):
    """The vendor answered a redirect that is not followed (the provider did not opt in, or too many hops)."""

    def __init__(self, status: int, target: str, why: str):
        self.status = status
        self.target = target
        super().__init__(f"The vendor answered {status}, redirecting to {target}: {why}")


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = parse_url(url)
    scheme = (parsed.scheme or "").lower()
    return scheme, (parsed.host or "").lower(), parsed.port or {"http": 80, "https": 443}.get(scheme)


class Hops:
    """Where a JSON request goes next when a vendor redirects it (only when the provider opts in).

    Each hop is sent once. 307/308 keep the method and body; 301/302 turn a POST, and 303 anything,
    into a GET without body (RFC 9110 15.4). The request's own headers (credentials and the
    provider's configured headers) go only to the origin of the first URL: another origin gets
    the body and Content-Type alone.
    """

    def __init__(self, url: str, method: str, body: bytes | None, headers: dict[str, str]):
        self.url, self.method, self.body, self.headers = url, method, body, headers
        self.first_url = url  # its origin is parsed only if a redirect comes (most sends see none)
        self.own_headers = headers
        self.count = 0

    def follow(self, status: int, location: str, *, allowed: bool) -> None:
        target = urljoin(self.url, location)
        if not allowed:
            raise RedirectRefused(status, target, "redirects are not followed for this provider.")
        self.count += 1
        if self.count > MAX_REDIRECTS:
            raise RedirectRefused(status, target, f"more than {MAX_REDIRECTS} redirects.")
        if parse_url(target).scheme not in ("http", "https"):
            raise RedirectRefused(status, target, "not an HTTP(S) address.")
        if status == 303 or (status in (301, 302) and self.method == "POST"):
            self.method, self.body = "GET", None
        if _origin(target) == _origin(self.first_url):
            self.headers = self.own_headers
        else:
            content_type = {k: v for k, v in self.own_headers.items() if k.lower() == "content-type"}
            self.headers = content_type
        if self.body is None:
            self.headers = {k: v for k, v in self.headers.items() if k.lower() != "content-type"}
        self.url = target


def _json_body(json: Any, headers: dict[str, str] | None) -> tuple[bytes | None, dict[str, str]]:
    """The encoded JSON body and the request's own headers, with its Content-Type unless they set one."""
    body = jsonlib.dumps(json, allow_nan=False).encode() if json is not None else None
    return body, {**({"Content-Type": "application/json"} if body else {}), **(headers or {})}


def _response(url: str, status: int, headers: Any, reason: str | None, content: bytes) -> requests.Response:
    """A `requests.Response` for an answer read by another client (urllib3, aiohttp)."""
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers)
    response.encoding = get_encoding_from_headers(response.headers)
    response.reason = reason
    response.url = url
    response._content = content
    return response


def outbound_session(
    *, pool_size: int | None = None, timeout: tuple[float, float] | None = None
) -> OutboundSession:
    """A pooled session for vendor traffic: address guard, no proxies from the environment, timeouts."""
    session = OutboundSession()
    session.trust_env = False
    session.default_timeout = timeout or (settings.OUTBOUND_CONNECT_TIMEOUT, settings.OUTBOUND_READ_TIMEOUT)
    size = pool_size or settings.OUTBOUND_POOL_SIZE
    adapter = GuardedAdapter(pool_connections=16, pool_maxsize=size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "rcsconnect/0.1"
    return session


REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class GuardedConnector(aiohttp.TCPConnector):
    """aiohttp's connector with the address guard: every address a host resolves to (an IP literal
    included) is checked before a connection is opened, and connections go only to checked
    addresses (aiohttp connects to the resolved addresses, it does not resolve again)."""

    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> list[dict[str, Any]]:
        infos = await super()._resolve_host(host, port, traces=traces)
        allow = AllowList.from_settings()
        permitted = [
            info
            for info in infos
            if address_allowed(host, ipaddress.ip_address(info["host"].split("%")[0]), allow, port)
        ]
        if not permitted:
            raise BlockedAddressError(host, infos[0]["host"] if infos else None)
        return permitted


class AsyncOutbound:
    """Vendor requests from an asyncio loop, for the sending engine (many in flight on one thread).

    The same rules as `outbound_session`, whose session it is given as `fallback`: the address
    guard on every new connection, TLS verified, no proxies from the environment, the fallback's
    connect and read timeouts and User-Agent on every call. Answers are `requests.Response` objects
    and errors requests' exception types, so provider kinds classify them exactly as they classify
    the blocking session's. Redirects as in `OutboundSession.send_json` (refused unless the
    provider opts in; followed hops go through the guard). Create, use and close it inside one running loop.
    """

    def __init__(self, fallback: OutboundSession, *, limit: int):
        connect, read = fallback.default_timeout
        self.fallback = fallback
        self.session = aiohttp.ClientSession(
            connector=GuardedConnector(limit=limit, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read),
            headers={"User-Agent": fallback.headers["User-Agent"]},
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def send_json(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        follow_redirects: bool = False,
    ) -> requests.Response:
        """One JSON request; what `OutboundSession.send_json` does, without blocking the loop."""
        body, own_headers = _json_body(json, headers)
        hops = Hops(url, method, body, own_headers)
        while True:
            status, answer_headers, reason, content = await self._request(
                hops.method, hops.url, hops.body, hops.headers
            )
            location = answer_headers.get("Location") if status in REDIRECT_STATUSES else None
            if not location:
                return _response(hops.url, status, answer_headers, reason, content)
            hops.follow(status, location, allowed=follow_redirects)

    async def _request(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Any, str | None, bytes]:
        try:
            async with self.session.request(
                method, url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                content = await answer.read()
                return answer.status, answer.headers, answer.reason, content
        except BlockedAddressError:
            raise
        except aiohttp.ConnectionTimeoutError as exc:
            raise requests.ConnectTimeout(f"Connection to {url} timed out.") from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise requests.ReadTimeout(f"{url} did not answer in time.") from exc
        except aiohttp.ClientSSLError as exc:
            raise requests.exceptions.SSLError(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise requests.ConnectionError(f"{exc.__class__.__name__}: {exc}") from exc

    async def close(self) -> None:
        await self.session.close()
