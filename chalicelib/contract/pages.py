"""The API's own pages: the demo page, the documentation viewer and their assets.

Everything is read from files shipped in the package (``static/``) on first
use and kept for the container's life: no CDN, so the pages work offline
and in Lambda. All assets are text, so API Gateway needs no binary media type
for them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from chalice import Chalice, Response

from chalicelib.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"

# name in the URL -> (file under static/, Content-Type); nothing else is served.
ASSETS: dict[str, tuple[str, str]] = {
    "demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "demo.css": ("demo.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js",
                             "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-LICENSE.txt": ("swagger-ui/LICENSE", "text/plain; charset=utf-8"),
}
HTML = "text/html; charset=utf-8"
# Pages change with a deploy; assets are cached for a day.
PAGE_HEADERS = {"Cache-Control": "no-cache"}
ASSET_HEADERS = {"Cache-Control": "public, max-age=86400"}


def demo_page() -> Response:
    """The demo page (``GET /``)."""
    return _text_response(_read("index.html"), HTML, PAGE_HEADERS)


def docs_page() -> Response:
    """The interactive documentation (``GET /docs``)."""
    return _text_response(_read("docs.html"), HTML, PAGE_HEADERS)


def asset(name: str) -> Response:
    """One script or style sheet of the pages; raises NotFound for any other name."""
    if name not in ASSETS:
        raise NotFound(f"there is no asset {name!r}; the assets are {sorted(ASSETS)}",
                       asset=name)
    filename, content_type = ASSETS[name]
    return _text_response(_read(filename), content_type, ASSET_HEADERS)


@functools.cache
def openapi_document(app: Chalice) -> dict[str, Any]:
    """The app's OpenAPI document, built on first request and kept."""
    from chalicelib.contract.openapi import build_document

    return build_document(app)


@functools.cache
def _read(filename: str) -> str:
    return (STATIC_DIR / filename).read_text(encoding="utf-8")


def _text_response(body: str, content_type: str, headers: dict[str, str]) -> Response:
    return Response(body=body, status_code=200,
                    headers={"Content-Type": content_type, **headers})
