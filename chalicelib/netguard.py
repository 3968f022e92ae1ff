"""Outbound HTTP to caller-supplied URLs, without server-side request forgery.

A URL a caller gives us (an image to fetch, a callback to notify) must not
reach the function's own network: loopback, private ranges, link-local (the
cloud metadata service at 169.254.169.254), multicast or reserved addresses.
Each hop is resolved once, every resolved address is checked, and the
connection goes to the checked address (so DNS cannot rebind between check
and connect); TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from chalicelib.errors import InvalidInput

Resolver = Callable[[str, int], Sequence[str]]
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# A callback receiver's answer is read to its end (a 2xx counts only when
# complete), and discarded; more than this is not an answer but a stream.
MAX_ANSWER_BYTES = 1024 * 1024
# What may stay as it is in a request path; anything else (non-ASCII,
# spaces, control characters) is percent-encoded so that it can be sent.
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


class UrlRefused(InvalidInput):
    """The URL is not one the server may call (scheme, host or address)."""


class FetchFailed(InvalidInput):
    """The URL was allowed but did not give a usable answer."""


class HostUnresolved(UrlRefused):
    """The host has no address now, though a name may resolve later: callers
    see it as UrlRefused, and a callback keeps it for the time of sending."""

    CODE = "UrlRefused"


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    content: bytes


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to; raises UrlRefused if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise HostUnresolved(f"the host {host!r} does not resolve", host=host) from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def refusal_reason(address: str, allow_loopback: bool = False) -> str | None:
    """Why ``address`` may not be called, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = refusal_reason(str(embedded), allow_loopback)
            return f"{reason} (embedded in {ip})" if reason else None
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a private address"
    return None


def check_url(url: str, allow_loopback: bool = False, resolver: Resolver = resolve,
              deadline: float | None = None) -> Target:
    """The vetted target of ``url``; raises UrlRefused naming the reason.

    With a ``deadline`` (a ``time.monotonic()`` instant) a resolution still
    running then raises FetchFailed.
    """
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused("the URL is empty", url=url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"the URL is malformed: {error}", url=url) from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"only http and https URLs are allowed, not {parts.scheme!r}",
                         url=url)
    if not parts.hostname:
        raise UrlRefused("the URL has no host", url=url)
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("URLs with credentials are not allowed", url=url)
    host = normalise_host(parts.hostname, url)
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve_by(resolver, host, port, deadline, url)
    if not addresses:
        raise HostUnresolved(f"the host {host!r} does not resolve", url=url)
    for address in addresses:
        reason = refusal_reason(address, allow_loopback)
        if reason:
            raise UrlRefused(f"{host} resolves to {address}, {reason}",
                             url=url, address=address)
    try:
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            path = f"{path}?{quote(parts.query, safe=_PATH_SAFE)}"
    except UnicodeEncodeError:
        raise UrlRefused("the URL's path is not valid text (a lone surrogate)",
                         url=url) from None
    return Target(url=url, scheme=parts.scheme, host=host, port=port,
                  address=addresses[0], path=path)


def normalise_host(hostname: str, url: str = "") -> str:
    """``hostname`` as the ASCII name or address it stands for (IDNA, UTS #46).

    Raises UrlRefused when it is not a valid internationalised name.
    """
    if hostname.isascii():
        if any(char.isspace() or not char.isprintable() for char in hostname):
            raise UrlRefused(f"the host {hostname!r} holds spaces or control characters",
                             url=url, reason="bad_host")
        return hostname.lower()
    import idna

    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise UrlRefused(f"the host {hostname!r} is not a valid domain name: {error}",
                         url=url, reason="bad_host") from None


def fetch(url: str, *, max_bytes: int, timeout: float = 5.0, deadline: float | None = None,
          max_redirects: int = 3, allow_loopback: bool = False,
          resolver: Resolver = resolve) -> Fetched:
    """GET ``url`` within the limits; raises UrlRefused or FetchFailed.

    The whole exchange (every redirect hop, resolution, connection, headers
    and body) ends within ``timeout`` seconds, or by ``deadline`` (a
    ``time.monotonic()`` instant) when that comes first.
    """
    deadline = _earlier(deadline, time.monotonic() + timeout)
    current = url
    for _ in range(max_redirects + 1):
        target = check_url(current, allow_loopback, resolver, deadline)
        with _exchange(target, "GET", None, {}, deadline) as (response, watchdog):
            if response.status in REDIRECT_STATUSES and response.headers.get("Location"):
                watchdog.check()
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status >= 400:
                watchdog.check()
                raise FetchFailed(f"{target.url} answered HTTP {response.status}",
                                  url=target.url, status=response.status)
            content = _read_capped(response, max_bytes, watchdog, target.url)
            return Fetched(url=current, status=response.status,
                           content_type=response.headers.get("Content-Type", ""),
                           content=content)
    raise FetchFailed(f"more than {max_redirects} redirects from {url}", url=url)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 5.0,
         allow_loopback: bool = False, resolver: Resolver = resolve) -> int:
    """POST ``body`` to ``url`` without following redirects; returns the status.

    The status counts only once the whole answer (headers and body) has
    arrived within ``timeout``.  Raises UrlRefused for a refused address and
    FetchFailed when the exchange fails (connection, deadline, a longer
    answer than MAX_ANSWER_BYTES).
    """
    deadline = time.monotonic() + timeout
    target = check_url(url, allow_loopback, resolver, deadline)
    with _exchange(target, "POST", body, headers, deadline) as (response, watchdog):
        _read_capped(response, MAX_ANSWER_BYTES, watchdog, target.url)
        return response.status


class _Watchdog:
    """Cuts one connection's socket at the deadline, whatever it is waiting for."""

    def __init__(self, deadline: float, url: str) -> None:
        self.deadline = deadline
        self.url = url
        self.fired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.fired:
                return
        self._shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def failure(self) -> FetchFailed:
        return FetchFailed(f"timed out: {self.url} did not answer completely by its "
                           "deadline", url=self.url, reason="deadline")

    def check(self) -> None:
        """Raises FetchFailed if the deadline passed during the exchange."""
        if self.fired or time.monotonic() >= self.deadline:
            raise self.failure()

    def _cut(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # shutdown (not close) wakes a thread blocked in recv on this socket.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@contextmanager
def _exchange(target: Target, method: str, body: bytes | None, headers: dict[str, str],
              deadline: float) -> Iterator[tuple[Any, _Watchdog]]:
    """The response to one request, its connection watched until the block ends."""
    import http.client

    import urllib3

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchFailed(f"timed out: no time was left to fetch {target.url}",
                          url=target.url, reason="deadline")
    watchdog = _Watchdog(deadline, target.url)
    pool = _pool(target, watchdog)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    try:
        try:
            response = pool.urlopen(method, target.path, body=body,
                                    headers={**headers, "Host": host_header},
                                    redirect=False, preload_content=False,
                                    assert_same_host=False,
                                    timeout=urllib3.Timeout(connect=remaining, read=remaining))
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
            watchdog.check()
            raise FetchFailed(f"could not fetch {target.url}: {type(error).__name__}",
                              url=target.url) from None
        try:
            yield response, watchdog
        finally:
            response.close()
    finally:
        watchdog.cancel()
        pool.close()


def _pool(target: Target, watchdog: _Watchdog) -> Any:
    import urllib3

    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, server_hostname=target.host,
            assert_hostname=target.host, cert_reqs="CERT_REQUIRED", maxsize=1, retries=False)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=1,
                                          retries=False)

    class WatchedConnection(pool.ConnectionCls):  # type: ignore[name-defined,misc]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            watchdog.watch(sock)
            return sock

    pool.ConnectionCls = WatchedConnection
    return pool


def _read_capped(response: Any, max_bytes: int, watchdog: _Watchdog, url: str) -> bytes:
    import http.client

    import urllib3

    declared = response.headers.get("Content-Length")
    # A hostile server's header: str.isdigit alone admits '²', which int() refuses.
    if (declared and declared.isascii() and declared.isdigit() and len(declared) <= 15
            and int(declared) > max_bytes):
        watchdog.check()
        raise FetchFailed(f"{url} is {declared} bytes, more than {max_bytes}", url=url,
                          limit=max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.read1(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailed(f"{url} is larger than {max_bytes} bytes", url=url,
                                  limit=max_bytes)
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
        watchdog.check()
        raise FetchFailed(f"could not fetch {url}: {type(error).__name__}", url=url) from None
    # A cut connection reads as a clean end: only the clock tells them apart.
    watchdog.check()
    return b"".join(chunks)


def _resolve_by(resolver: Resolver, host: str, port: int, deadline: float | None,
                url: str) -> Sequence[str]:
    if deadline is None:
        return resolver(host, port)
    # getaddrinfo cannot be interrupted: it runs aside, and is abandoned at
    # the deadline (a hostile name server may answer slowly on purpose).
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(resolver(host, port))
        except Exception as error:  # handed to the caller's thread below
            outcome.append(error)

    worker = threading.Thread(target=run, name=f"resolve-{host}", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if not outcome:
        raise FetchFailed(f"timed out: {host} did not resolve by the deadline", url=url,
                          reason="deadline")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def _earlier(first: float | None, second: float) -> float:
    return second if first is None else min(first, second)
