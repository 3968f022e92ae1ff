"""moto's server mode on loopback: a real HTTP endpoint speaking S3, DynamoDB,
SQS and friends, so the app's boto3 code runs unchanged against it."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

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
