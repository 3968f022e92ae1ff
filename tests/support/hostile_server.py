"""A server on loopback that answers slowly on purpose, speaking raw HTTP.

Each path is one way to hold a client: drip the headers, drip the body,
send a body that never ends, stall after the headers.  Left alone, every
drip but the endless body completes after ``DRIP_SECONDS`` with a valid
answer, so a client without an overall deadline would succeed (late), and a
test expecting the cut fails rather than hangs.
"""

from __future__ import annotations

import select
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

DRIP_SECONDS = 30.0
HOSTILE_PATHS = ("/drip-headers", "/drip-body", "/endless-body", "/stall-after-headers")


@contextmanager
def hostile_server(body: bytes = b"\x89PNG not really", status: int = 200
                   ) -> Iterator[str]:
    """Serve the HOSTILE_PATHS (for GET and POST); yields the base URL."""
    stopping = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            request = self._read_request()
            path = request.split(b" ", 2)[1].decode("latin-1") if request else ""
            head = (f"HTTP/1.1 {status} OK\r\nContent-Type: image/png\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n").encode()
            try:
                if path == "/drip-headers":
                    self._send(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    self._drip(b"a" * int(DRIP_SECONDS * 10), 0.1)
                    self._send(b"\r\n" + head.split(b"\r\n", 1)[1] + b"\r\n" + body)
                elif path == "/drip-body":
                    self._send(head + b"\r\n")
                    self._drip(body, DRIP_SECONDS / len(body))
                elif path == "/endless-body":
                    self._send(f"HTTP/1.1 {status} OK\r\nContent-Type: image/png\r\n"
                               "Connection: close\r\n\r\n".encode())
                    while not stopping.is_set():
                        self._send(b"x" * 64)
                        time.sleep(0.05)
                elif path == "/stall-after-headers":
                    self._send(head + b"\r\n")
                    self._wait_for_close()
                else:
                    self._send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass  # the client cut the connection: what the tests want

        def _read_request(self) -> bytes:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = self.request.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data

        def _send(self, data: bytes) -> None:
            self.request.sendall(data)

        def _drip(self, data: bytes, interval: float) -> None:
            for index in range(len(data)):
                if stopping.is_set():
                    return
                self._send(data[index:index + 1])
                time.sleep(interval)

        def _wait_for_close(self) -> None:
            deadline = time.monotonic() + DRIP_SECONDS
            while not stopping.is_set() and time.monotonic() < deadline:
                readable, _, _ = select.select([self.request], [], [], 0.1)
                if readable and not self.request.recv(65536):
                    return

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
