"""moto's server mode on loopback: a real HTTP endpoint speaking S3, DynamoDB,
SQS and friends, so the app's boto3 code runs unchanged against it."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LOCAL_REGION = "us-east-1"


class Emulator:
    """A running moto server; use as a context manager or call stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = _atomic_dynamodb_server(host, self.port)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Emulator:
        import logging

        # The emulator's access log would interleave every SQS long poll and
        # S3 call with the API's own log; its warnings and errors still show.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # moto's CloudFormation cannot create queue policies; stack/emulated.py
        # applies resources.json's afterwards, so moto's notice is expected.
        logging.getLogger("moto").addFilter(_without_queue_policy_notice)
        warnings.filterwarnings("ignore", message="Tried to parse AWS::SQS::QueuePolicy",
                                category=UserWarning)
        self._server.start()
        wait_for_port(self.host, self.port)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _without_queue_policy_notice(record: Any) -> bool:
    return not record.getMessage().startswith(
        "No Moto CloudFormation support for AWS::SQS::QueuePolicy")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    """Block until something accepts connections on host:port; raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def _atomic_dynamodb_server(host: str, port: int) -> Any:
    """A ThreadedMotoServer whose DynamoDB calls do not interleave.

    DynamoDB applies each call atomically: of twenty concurrent conditional
    puts of one key exactly one succeeds.  moto checks the condition and then
    writes without a lock, so on its threaded server two can both succeed.
    Serialising DynamoDB requests restores the guarantee the app relies on.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class AtomicDynamoDBServer(ThreadedMotoServer):
        def _server_entry(self) -> None:  # as moto's, with the app wrapped
            app = _SerialisedDynamoDB(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True,
                                       request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return AtomicDynamoDBServer(ip_address=host, port=port, verbose=False)


class _SerialisedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time, others untouched."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))


class Persistence:
    """Keeps the emulator's data across restarts, with moto's request recorder.

    moto keeps its state in memory only; its recorder appends every request it
    serves to a file and can replay them.  On start, the requests that changed
    something (S3 writes, DynamoDB writes, SSM writes) are replayed into the
    fresh emulator and the file is compacted to those; reads, and SQS entirely,
    are dropped: queued messages are not kept (an upload's S3 write, replayed,
    queues its event again).  Use before the emulator is created: moto reads
    MOTO_ENABLE_RECORDING and MOTO_RECORDER_FILEPATH when first imported.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def prepare(self) -> None:
        """Point moto's recorder at the file (call before moto is imported)."""
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.environ["MOTO_ENABLE_RECORDING"] = "true"
        os.environ["MOTO_RECORDER_FILEPATH"] = str(self.path)

    def replay(self, endpoint_url: str) -> int:
        """Replay the kept writes into the emulator at ``endpoint_url``; returns how many."""
        import requests
        from moto.moto_api import recorder

        if not self.path.is_file():
            return 0
        kept = [line for line in self.path.read_text().splitlines()
                if line.strip() and _changes_state(json.loads(line))]
        recorder.stop_recording()
        try:
            for line in kept:
                entry = json.loads(line)
                body = entry.get("body") or b""
                if entry.get("body_encoded"):
                    body = base64.b64decode(body)
                parts = urlsplit(entry["url"])
                url = endpoint_url + parts.path + (f"?{parts.query}" if parts.query else "")
                headers = {name: value for name, value in entry["headers"].items()
                           if name.lower() not in ("host", "transfer-encoding")}
                requests.request(entry["method"], url, headers=headers, data=body, timeout=30)
        finally:
            self.path.write_text("".join(f"{line}\n" for line in kept))
            recorder.start_recording()
        return len(kept)


# Calls that only read, by the X-Amz-Target of JSON-protocol services.
_READ_ACTIONS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet")


def _changes_state(entry: dict[str, Any]) -> bool:
    if entry.get("method") in ("GET", "HEAD", "OPTIONS"):
        return False
    headers = {name.lower(): value for name, value in entry.get("headers", {}).items()}
    target = headers.get("x-amz-target", "")
    if target.startswith("AmazonSQS") or "sqs." in headers.get("host", ""):
        return False
    if "Action=" in str(entry.get("body", "")) and "QueueUrl" in str(entry.get("body", "")):
        return False  # SQS in its query protocol
    action = target.rpartition(".")[2]
    return not action.startswith(_READ_ACTIONS)
