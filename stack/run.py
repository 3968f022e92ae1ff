"""`make run`: the emulator, the stage's resources and the API, on loopback."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from chalicelib.settings import DEFAULT_AWS_PORT
from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION, Emulator, Persistence

PROJECT_DIR = Path(__file__).resolve().parent.parent
LISTEN_BACKLOG = 128
# Set in the shell, these replace the stage's models (e.g. one put into the
# emulator by `make upload-model`: docs/bring-your-own-models.md).
MODEL_VARIABLES = ("CLASSIFIER_MODEL", "DETECTOR_MODEL")


def local_environment(endpoint_url: str) -> dict[str, str]:
    """What the app needs to reach the emulator, on top of the stage's config.

    Log records are readable lines unless LOG_FORMAT=json asks for them as in AWS.
    """
    return {
        "LOG_FORMAT": os.environ.get("LOG_FORMAT") or "text",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", LOCAL_REGION),
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID",
                                            LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        "AWS_SECRET_ACCESS_KEY": os.environ.get(
            "AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
        **{name: os.environ[name] for name in MODEL_VARIABLES if os.environ.get(name)},
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


class PortBusy(Exception):
    """A port the stack needs is taken; the message says which and how to move it."""


# What each port is for, and how a user moves it.
_PORT_CHOICES = {"API": "PORT=<port> make run (or --port)",
                 "AWS emulator": "AWS_PORT=<port> make run (or --aws-port)"}


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Raise PortBusy unless every port in ``ports`` (by role) can be bound on ``host``."""
    import socket

    roles = {}
    for role, port in ports.items():
        if port in roles:
            raise PortBusy(f"the {role} and the {roles[port]} cannot share port {port}; "
                           f"choose another: {_PORT_CHOICES.get(role, '')}")
        roles[port] = role
        with socket.socket() as probe:
            # As the servers will: an old socket in TIME_WAIT does not count as busy.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                raise PortBusy(f"port {port} on {host} for the {role} is in use "
                               f"({error.strerror}); stop what uses it or choose another: "
                               f"{_PORT_CHOICES.get(role, '')}") from None


def stop_on_signals() -> None:
    """SIGINT and SIGTERM both stop the stack (as KeyboardInterrupt in the main thread).

    Set explicitly: a process started with SIGINT ignored (nohup, a background
    job, some CI runners) inherits the ignoring and Python keeps it.
    """
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def serve(host: str, port: int, aws_port: int, stage: str,
          persist: Path | None = None) -> int:
    """Run the whole local stack until SIGINT/SIGTERM; returns the exit code."""
    from chalice.deploy.validate import validate_routes

    from stack.gateway import create_iam_enforcing_server
    from stack.sigv4 import LocalCaller

    check_ports(host, {"API": port, "AWS emulator": aws_port})
    persistence = None if persist is None else Persistence(persist)
    if persistence is not None:
        persistence.prepare()
    emulator = Emulator(host, aws_port).start()
    try:
        if persistence is not None:
            replayed = persistence.replay(emulator.endpoint_url)
            print(f"Kept data:            {persistence.path} ({replayed} writes replayed)",
                  flush=True)
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
    # The poller's own warnings (chalicelib's records go through the app's
    # log handler, see chalicelib/observability).
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("stack").addHandler(handler)
    logging.getLogger("stack").setLevel(logging.INFO)
    sqs = boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    ).client("sqs", endpoint_url=environment["AWS_ENDPOINT_URL"])
    pollers = [QueuePoller(sqs, environment["BLOBS_QUEUE"],
                           app.handler_map["handle_blob_event"])]
    if "handle_dead_blob_event" in app.handler_map and environment.get("BLOBS_DLQ"):
        pollers.append(QueuePoller(sqs, environment["BLOBS_DLQ"],
                                   app.handler_map["handle_dead_blob_event"],
                                   function_name="handle_dead_blob_event"))
    return [poller.start() for poller in pollers]


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
    # The secret key is never printed: logs are scanned for it (docs/operating.md).
    print(f"Local credentials:    AWS_ACCESS_KEY_ID={environment['AWS_ACCESS_KEY_ID']} "
          "with the secret key in AWS_SECRET_ACCESS_KEY (unset: the emulator's, "
          f"see stack/emulator.py), region {environment['AWS_DEFAULT_REGION']}", flush=True)
    print(f"IAM routes:           SigV4-signed requests (service execute-api, region "
          f"{environment['AWS_DEFAULT_REGION']}) with the local credentials", flush=True)
    print(f"Models:               CLASSIFIER_MODEL={environment.get('CLASSIFIER_MODEL')} "
          f"DETECTOR_MODEL={environment.get('DETECTOR_MODEL')}; your own: `make upload-model "
          "MANIFEST=...` (docs/bring-your-own-models.md)", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def emulator_only(host: str, aws_port: int) -> int:
    """Run only the emulator with the dev stage's resources (for `chalice local`)."""
    check_ports(host, {"AWS emulator": aws_port})
    with Emulator(host, aws_port) as emulator:
        environment = stage_config("dev", local_environment(emulator.endpoint_url)
                                   ).environment_variables
        provision_local(environment)
        print(f"AWS emulator (moto): {emulator.endpoint_url}  Ctrl-C to stop.", flush=True)
        if aws_port != DEFAULT_AWS_PORT:
            print(f"Start Chalice with the same port: AWS_PORT={aws_port} chalice local "
                  "--stage dev", flush=True)
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
                        default=int(os.environ.get("AWS_PORT") or DEFAULT_AWS_PORT))
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--persist", type=Path, metavar="FILE",
                        default=Path(os.environ["PERSIST"]) if os.environ.get("PERSIST")
                        else None,
                        help="keep the emulator's data in FILE across restarts "
                             "(default: $PERSIST; without it a restart starts empty)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    stop_on_signals()
    try:
        if args.command == "emulator":
            return emulator_only(args.host, args.aws_port)
        return serve(args.host, args.port, args.aws_port, args.stage, args.persist)
    except PortBusy as busy:
        print(f"Cannot start: {busy}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        # Stopped while starting: everything started has been stopped by now.
        print("Stopped before the stack was ready.", flush=True)
        return 0

