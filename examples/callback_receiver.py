"""A callback receiver for POST /blobs that checks every signature.

    python examples/callback_receiver.py --port 9000

Point a blob's ``callback_url`` at http://127.0.0.1:9000/hook.  Each POST is
verified before its body is parsed: ``X-Signature-SHA256`` must be
``sha256=`` + hex HMAC-SHA256(secret, "<X-Signature-Timestamp>." + raw body)
and the timestamp at most five minutes away, so a captured callback cannot be
replayed later.  A verified callback is answered 204; any other gets 401,
which the API records as a final failure (it does not retry a 4xx).

    GET /callbacks/<blob id>   what arrived for that blob, as JSON

The secret: CALLBACK_SECRET when set (a deployed stage's receiver is given it
by its own configuration); otherwise it is read, as the API reads it, from the
SSM SecureString --parameter in the emulator of `make run` (--aws-endpoint),
with the local credentials.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLAY_WINDOW_SECONDS = 300
LOCAL_PARAMETER = "/chalice-ref-dev/callback-secret"
LOCAL_ENDPOINT = "http://127.0.0.1:5050"
LOCAL_PORT = 9000


def verify_callback(secret: bytes, headers: Mapping[str, str], body: bytes,
                    now: float | None = None) -> str | None:
    """None when the callback is authentic and fresh, else the reason it is not."""
    timestamp = headers.get("X-Signature-Timestamp") or ""
    signature = headers.get("X-Signature-SHA256") or ""
    if not timestamp.isdigit():
        return "no X-Signature-Timestamp header"
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return f"timestamp {timestamp} is more than {REPLAY_WINDOW_SECONDS} s from now"
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    if not hmac.compare_digest("sha256=" + mac.hexdigest(), signature):
        return "X-Signature-SHA256 does not match the body"
    return None


def read_local_secret(parameter: str = LOCAL_PARAMETER,
                      endpoint_url: str = LOCAL_ENDPOINT) -> bytes:
    """The callback secret that `make run` created in its emulator."""
    import boto3

    ssm = boto3.client(
        "ssm", endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "testing",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "testing")
    value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    return value.encode("utf-8")


class CallbackLog:
    """The callbacks received so far, by blob id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_blob: dict[str, list[dict[str, Any]]] = {}

    def add(self, blob_id: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._by_blob.setdefault(blob_id, []).append(entry)

    def for_blob(self, blob_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_blob.get(blob_id, []))


def make_server(secret: bytes, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server that verifies callbacks with ``secret`` and lists them."""
    log = CallbackLog()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            problem = verify_callback(secret, self.headers, body)
            if problem is None:
                payload = json.loads(body)
                log.add(str(payload.get("blobId")), {"verified": True, "payload": payload})
                print(f"blob {payload.get('blobId')}: {payload.get('status')}, "
                      "signature verified", flush=True)
                self._answer(204)
            else:
                print(f"refused a callback: {problem}", flush=True)
                self._answer(401, {"message": problem})

        def do_GET(self) -> None:
            prefix = "/callbacks/"
            if not self.path.startswith(prefix):
                self._answer(404, {"message": "GET /callbacks/<blob id>"})
                return
            self._answer(200, log.for_blob(self.path[len(prefix):]))

        def _answer(self, status: int, document: Any = None) -> None:
            data = b"" if document is None else json.dumps(document).encode("utf-8")
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=LOCAL_PORT)
    parser.add_argument("--parameter", default=LOCAL_PARAMETER)
    parser.add_argument("--aws-endpoint", default=LOCAL_ENDPOINT)
    args = parser.parse_args(argv)
    if os.environ.get("CALLBACK_SECRET"):
        secret, source = os.environ["CALLBACK_SECRET"].encode("utf-8"), "CALLBACK_SECRET"
    else:
        secret = read_local_secret(args.parameter, args.aws_endpoint)
        source = f"SSM parameter {args.parameter} at {args.aws_endpoint}"
    server = make_server(secret, args.port)
    print(f"Verifying callbacks with the secret from {source}", flush=True)
    print(f"Listening on http://127.0.0.1:{args.port}/  Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
