"""Images named by URL, fetched through netguard (no server-side request forgery)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib import netguard
from chalicelib.errors import InvalidInput

FETCH_TIMEOUT_SECONDS = 5.0
MAX_REDIRECTS = 3
# URLs are fetched side by side so that a request's worst case is a few
# timeouts, not one per URL (16 slow URLs in a row would outlast the Lambda).
_MAX_PARALLEL_FETCHES = 8


def fetch_images(urls: Sequence[str], *, max_bytes: int,
                 allow_loopback: bool) -> list[bytes | InvalidInput]:
    """The body of each URL, or the UrlRefused/FetchFailed error it gave, in order."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_FETCHES, len(urls))) as pool:
        return list(pool.map(
            lambda url: _fetch_one(url, max_bytes, allow_loopback), urls))


def _fetch_one(url: str, max_bytes: int, allow_loopback: bool) -> bytes | InvalidInput:
    try:
        return netguard.fetch(url, max_bytes=max_bytes, timeout=FETCH_TIMEOUT_SECONDS,
                              max_redirects=MAX_REDIRECTS,
                              allow_loopback=allow_loopback).content
    except (netguard.UrlRefused, netguard.FetchFailed) as error:
        return error
