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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from chalicelib.errors import InvalidInput

Resolver = Callable[[str, int], Sequence[str]]
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_READ_TIMEOUT = 1.0


class UrlRefused(InvalidInput):
    """The URL is not one the server may call (scheme, host or address)."""


class FetchFailed(InvalidInput):
    """The URL was allowed but did not give a usable answer."""


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
    except (socket.gaierror, UnicodeError):
        raise UrlRefused(f"the host {host!r} does not resolve", host=host) from None
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


def check_url(url: str, allow_loopback: bool = False,
              resolver: Resolver = resolve) -> Target:
    """The vetted target of ``url``; raises UrlRefused naming the reason."""
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
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise UrlRefused(f"the host {parts.hostname!r} does not resolve", url=url)
    for address in addresses:
        reason = refusal_reason(address, allow_loopback)
        if reason:
            raise UrlRefused(f"{parts.hostname} resolves to {address}, {reason}",
                             url=url, address=address)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url=url, scheme=parts.scheme, host=parts.hostname, port=port,
                  address=addresses[0], path=path)


def fetch(url: str, *, max_bytes: int, timeout: float = 5.0, max_redirects: int = 3,
          allow_loopback: bool = False, resolver: Resolver = resolve) -> Fetched:
    """GET ``url`` within the limits; raises UrlRefused or FetchFailed."""
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(max_redirects + 1):
        target = check_url(current, allow_loopback, resolver)
        response = _open(target, "GET", None, {}, deadline)
        try:
            if response.status in REDIRECT_STATUSES and response.headers.get("Location"):
                current = urljoin(current, response.headers["Location"])
                continue
            if response.status >= 400:
                raise FetchFailed(f"{target.url} answered HTTP {response.status}",
                                  url=target.url, status=response.status)
            content = _read_capped(response, max_bytes, deadline, target.url)
            return Fetched(url=current, status=response.status,
                           content_type=response.headers.get("Content-Type", ""),
                           content=content)
        finally:
            response.release_conn()
    raise FetchFailed(f"more than {max_redirects} redirects from {url}", url=url)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 5.0,
         allow_loopback: bool = False, resolver: Resolver = resolve) -> int:
    """POST ``body`` to ``url`` without following redirects; returns the status.

    Raises UrlRefused for a refused address and FetchFailed when the
    exchange fails (connection, timeout).
    """
    target = check_url(url, allow_loopback, resolver)
    response = _open(target, "POST", body, headers, time.monotonic() + timeout)
    try:
        return response.status
    finally:
        response.release_conn()


def _open(target: Target, method: str, body: bytes | None, headers: dict[str, str],
          deadline: float):
    import urllib3

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchFailed(f"timed out fetching {target.url}", url=target.url)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, server_hostname=target.host,
            assert_hostname=target.host, cert_reqs="CERT_REQUIRED", maxsize=1, retries=False)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=1,
                                          retries=False)
    try:
        return pool.urlopen(method, target.path, body=body,
                            headers={**headers, "Host": host_header},
                            redirect=False, preload_content=False, assert_same_host=False,
                            timeout=urllib3.Timeout(connect=remaining,
                                                    read=min(remaining, _READ_TIMEOUT)))
    except urllib3.exceptions.HTTPError as error:
        raise FetchFailed(f"could not fetch {target.url}: {type(error).__name__}",
                          url=target.url) from None


def _read_capped(response, max_bytes: int, deadline: float, url: str) -> bytes:
    import urllib3

    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailed(f"{url} is {declared} bytes, more than {max_bytes}", url=url,
                          limit=max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        # read1 returns after a single receive, so a server that drips bytes
        # cannot hold the function past the deadline by more than one read.
        while chunk := response.read1(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailed(f"{url} is larger than {max_bytes} bytes", url=url,
                                  limit=max_bytes)
            if time.monotonic() > deadline:
                raise FetchFailed(f"timed out fetching {url}", url=url)
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as error:
        raise FetchFailed(f"could not fetch {url}: {type(error).__name__}", url=url) from None
    return b"".join(chunks)
