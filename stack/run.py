"""`make run`: the emulator, the stage's resources and the API, on loopback."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION, Emulator

PROJECT_DIR = Path(__file__).resolve().parent.parent
LISTEN_BACKLOG = 128


def local_environment(endpoint_url: str) -> dict[str, str]:
    """What the app needs to reach the emulator, on top of the stage's config."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", LOCAL_REGION),
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID",
                                            LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        "AWS_SECRET_ACCESS_KEY": os.environ.get(
            "AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
    }


def stage_config(stage: str, overrides: dict[str, str], project_dir: Path = PROJECT_DIR
                 ) -> Any:
    """The Chalice config of ``stage`` with ``overrides`` on its environment.

    Its ``chalice_app`` imports app.py with the stage's variables put into
    this process's environment, as the chalice CLI does.
    """
    from chalice.cli.factory import CLIFactory

    return CLIFactory(str(project_dir), environ=os.environ).create_config_obj(
        chalice_stage_name=stage,
        user_provided_params={"environment_variables": overrides})


def provision_local(environment: dict[str, str], project_dir: Path = PROJECT_DIR
                    ) -> dict[str, str]:
    """Create the stage's resources from resources.json in the emulator that
    ``environment`` names; returns the resources stack's outputs."""
    import boto3

    from stack.provision import provision_stage

    session = boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    )
    return provision_stage(_EndpointSession(session, environment["AWS_ENDPOINT_URL"]),
                           environment["APP_STAGE"], environment, project_dir, emulated=True)


class _EndpointSession:
    """A boto3 session whose clients all talk to one endpoint."""

    def __init__(self, session: Any, endpoint_url: str) -> None:
        self._session = session
        self._endpoint_url = endpoint_url

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint_url)


def serve(host: str, port: int, aws_port: int, stage: str) -> int:
    """Run the whole local stack until SIGINT/SIGTERM; returns the exit code."""
    from chalice.deploy.validate import validate_routes

    from stack.gateway import create_iam_enforcing_server
    from stack.sigv4 import LocalCaller

    emulator = Emulator(host, aws_port).start()
    try:
        overrides = local_environment(emulator.endpoint_url)
        config = stage_config(stage, overrides)
        environment = config.environment_variables
        os.environ.update(environment)
        provision_local(environment)
        app = config.chalice_app
        validate_routes(app.routes)
        caller = LocalCaller.from_environ(os.environ)
        server = create_iam_enforcing_server(app, config, host, port, caller)
        # socketserver listens with a backlog of 5: a burst of concurrent
        # clients (a browser, a load test) would see connection resets.
        server.server.socket.listen(LISTEN_BACKLOG)
        pollers = start_pollers(app, environment)
        _print_banner(host, port, emulator.endpoint_url, environment, stage)
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            stop_pollers(pollers)
            server.server.server_close()
    finally:
        emulator.stop()
    print("Stopped the API and the AWS emulator.", flush=True)
    return 0


def start_pollers(app: Any, environment: dict[str, str]) -> list[Any]:
    """Run the app's SQS handlers on their queues, as Lambda's event sources would."""
    import logging

    import boto3

    from stack.poller import QueuePoller

    if "handle_blob_event" not in app.handler_map or not environment.get("BLOBS_QUEUE"):
        return []
    # The handler logs each outcome at INFO; show those (not botocore's chatter).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("chalicelib", "stack"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    sqs = boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    ).client("sqs", endpoint_url=environment["AWS_ENDPOINT_URL"])
    poller = QueuePoller(sqs, environment["BLOBS_QUEUE"], app.handler_map["handle_blob_event"])
    return [poller.start()]


def stop_pollers(pollers: list[Any]) -> None:
    """Let each poller finish its batch; a second Ctrl-C stops waiting."""
    try:
        for poller in pollers:
            poller.stop()
    except KeyboardInterrupt:
        # The pollers are daemon threads: they end with the process.
        pass


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _print_banner(host: str, port: int, endpoint: str, environment: dict[str, str],
                  stage: str) -> None:
    print(f"API ({stage} stage):   http://{host}:{port}", flush=True)
    print(f"AWS emulator (moto):  {endpoint}", flush=True)
    print(f"Local credentials:    AWS_ACCESS_KEY_ID={environment['AWS_ACCESS_KEY_ID']} "
          f"AWS_SECRET_ACCESS_KEY={environment['AWS_SECRET_ACCESS_KEY']} "
          f"region {environment['AWS_DEFAULT_REGION']}", flush=True)
    print(f"IAM routes:           SigV4-signed requests (service execute-api, region "
          f"{environment['AWS_DEFAULT_REGION']}) with the local credentials", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def emulator_only(host: str, aws_port: int) -> int:
    """Run only the emulator with the dev stage's resources (for `chalice local`)."""
    with Emulator(host, aws_port) as emulator:
        environment = stage_config("dev", local_environment(emulator.endpoint_url)
                                   ).environment_variables
        provision_local(environment)
        print(f"AWS emulator (moto): {emulator.endpoint_url}  Ctrl-C to stop.", flush=True)
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    parser.add_argument("command", choices=["run", "emulator"], nargs="?", default="run")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
    parser.add_argument("--aws-port", type=int,
                        default=int(os.environ.get("AWS_PORT") or 5050))
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    if args.command == "emulator":
        return emulator_only(args.host, args.aws_port)
    return serve(args.host, args.port, args.aws_port, args.stage)

