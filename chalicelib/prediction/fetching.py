"""Images named by URL, fetched through netguard (no server-side request forgery)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib import netguard
from chalicelib.errors import InvalidInput

# Every fetch of one request ends by the same instant, this long after the
# first starts: 16 hostile URLs cost a request FETCH_TIMEOUT_SECONDS, not 16 times it.
FETCH_TIMEOUT_SECONDS = 5.0
MAX_REDIRECTS = 3


def fetch_images(urls: Sequence[str], *, max_bytes: int, allow_loopback: bool,
                 timeout: float = FETCH_TIMEOUT_SECONDS) -> list[bytes | InvalidInput]:
    """The body of each URL, or the UrlRefused/FetchFailed error it gave, in order.

    The URLs are fetched side by side (a request has at most MAX_IMAGES) and
    share one deadline, ``timeout`` seconds from now.
    """
    if not urls:
        return []
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(
            lambda url: _fetch_one(url, max_bytes, allow_loopback, deadline), urls))


def _fetch_one(url: str, max_bytes: int, allow_loopback: bool,
               deadline: float) -> bytes | InvalidInput:
    try:
        return netguard.fetch(url, max_bytes=max_bytes, deadline=deadline,
                              timeout=FETCH_TIMEOUT_SECONDS, max_redirects=MAX_REDIRECTS,
                              allow_loopback=allow_loopback).content
    except (netguard.UrlRefused, netguard.FetchFailed) as error:
        return error
