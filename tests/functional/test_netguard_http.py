"""netguard against real HTTP servers on loopback (allowed by the dev switch)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.netguard import FetchFailed, UrlRefused, fetch, post
from tests.support.hostile_server import HOSTILE_PATHS, hostile_server
from tests.support.hostnames import fullwidth


class Handler(BaseHTTPRequestHandler):
    received: list = []

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            hops = int(self.path.rsplit("/", 1)[1])
            target = "/payload" if hops == 0 else f"/redirect/{hops - 1}"
            self._answer(302, b"", {"Location": target})
        elif self.path == "/to-metadata":
            self._answer(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        elif self.path == "/payload":
            self._answer(200, b"x" * 1000, {"Content-Type": "image/png"})
        elif self.path == "/big":
            self._answer(200, b"x" * 200_000)
        elif self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        elif self.path == "/host":
            self._answer(200, self.headers["Host"].encode())
        elif self.path.startswith("/echo/"):
            self._answer(200, self.path.encode())
        else:
            self._answer(404, b"no")

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.received.append((self.path, dict(self.headers), body))
        self._answer(204, b"")

    def _answer(self, status, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_loopback_is_refused_without_the_dev_switch(server):
    with pytest.raises(UrlRefused, match="loopback"):
        fetch(f"{server}/payload", max_bytes=10_000)


def test_fetch_follows_up_to_three_redirects(server):
    fetched = fetch(f"{server}/redirect/2", max_bytes=10_000, allow_loopback=True)
    assert fetched.content == b"x" * 1000 and fetched.content_type == "image/png"
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        fetch(f"{server}/redirect/3", max_bytes=10_000, allow_loopback=True)


def test_each_redirect_hop_is_checked(server):
    with pytest.raises(UrlRefused, match=r"169\.254\.169\.254"):
        fetch(f"{server}/to-metadata", max_bytes=10_000, allow_loopback=True)


def test_size_cap(server):
    with pytest.raises(FetchFailed, match="more than 100000"):
        fetch(f"{server}/big", max_bytes=100_000, allow_loopback=True)


def test_timeout_bounds_a_dripping_server(server):
    with pytest.raises(FetchFailed, match="timed out") as failed:
        fetch(f"{server}/slow", max_bytes=10_000, timeout=1.0, allow_loopback=True)
    assert failed.value.details["reason"] == "deadline"


@pytest.fixture(scope="module")
def hostile():
    with hostile_server() as base_url:
        yield base_url


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_every_hostile_server_is_cut_at_the_deadline(hostile, path):
    with pytest.raises(FetchFailed, match="did not answer completely") as failed:
        fetch(f"{hostile}{path}", max_bytes=10_000_000, timeout=0.5, allow_loopback=True)
    assert failed.value.details == {"url": f"{hostile}{path}", "reason": "deadline"}


def test_fetches_sharing_a_deadline_all_end_by_it(hostile):
    deadline = time.monotonic() + 0.5
    for path in HOSTILE_PATHS:
        with pytest.raises(FetchFailed, match="timed out"):
            fetch(f"{hostile}{path}", max_bytes=10_000_000, deadline=deadline,
                  allow_loopback=True)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_a_post_counts_only_a_complete_answer(hostile, path):
    with pytest.raises(FetchFailed, match="timed out"):
        post(f"{hostile}{path}", b"{}", {"Content-Type": "application/json"}, timeout=0.5,
             allow_loopback=True)


def test_a_fullwidth_loopback_host_is_fetched_as_127_0_0_1(server):
    port = server.rsplit(":", 1)[1]
    fetched = fetch(f"http://{fullwidth('127.0.0.1')}:{port}/host", max_bytes=1000,
                    allow_loopback=True)
    assert fetched.content == f"127.0.0.1:{port}".encode()


def test_a_non_ascii_path_arrives_percent_encoded(server):
    fetched = fetch(f"{server}/echo/bär ü.png", max_bytes=1000, allow_loopback=True)
    assert fetched.content == b"/echo/b%C3%A4r%20%C3%BC.png"


def test_http_errors_are_reported(server):
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch(f"{server}/missing", max_bytes=10_000, allow_loopback=True)


def test_connection_goes_to_the_checked_address(server):
    port = server.rsplit(":", 1)[1]
    # "rebind.invalid" exists in no DNS: the request can only succeed by
    # connecting to the address the resolver gave at check time.
    fetched = fetch(f"http://rebind.invalid:{port}/host", max_bytes=1000,
                    allow_loopback=True, resolver=lambda host, p: ["127.0.0.1"])
    assert fetched.content == f"rebind.invalid:{port}".encode()


def test_post_delivers_body_and_headers(server):
    status = post(f"{server}/hook", b'{"a": 1}', {"Content-Type": "application/json",
                                                   "X-Test": "yes"}, allow_loopback=True)
    assert status == 204
    path, headers, body = Handler.received[-1]
    assert (path, headers["X-Test"], body) == ("/hook", "yes", b'{"a": 1}')
