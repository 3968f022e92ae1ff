"""A real HTTP server on loopback that serves test images for `url` parts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(files: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    """Serve ``{path: (content_type, body)}``; yields the base URL. Other paths 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/redirect-to/"):
                self._answer(302, b"", {"Location": self.path[len("/redirect-to"):]})
                return
            if self.path not in files:
                self._answer(404, b"not here", {"Content-Type": "text/plain"})
                return
            content_type, body = files[self.path]
            self._answer(200, body, {"Content-Type": content_type})

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
