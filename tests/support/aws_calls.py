"""Record every AWS API call a process makes, through botocore's client plugins.

``BOTOCORE_EXPERIMENTAL__PLUGINS=aws_calls=tests.support.aws_calls`` makes
botocore call :func:`initialize_client_plugin` for every client it creates,
in this process and in any child that inherits the environment (the
``make run`` stack of the e2e tests).  Each call -- including presigned URLs
and POSTs, which are signed with the caller's credentials but never sent by
it -- is appended as one JSON line to the file ``RECORD_AWS_CALLS_TO`` names, with
the project code that made it: ``app`` (app.py, chalicelib), ``stack`` or
``tests`` (set-up and provisioning, not the app's).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PLUGIN = "aws_calls=tests.support.aws_calls"
# Not AWS_*: the e2e fixture strips those from the local stack's environment.
LOG_VARIABLE = "RECORD_AWS_CALLS_TO"
PROJECT_DIR = Path(__file__).resolve().parents[2]
_PARAMETERS = ("Bucket", "Key", "TableName", "QueueUrl", "QueueName", "Name")


def initialize_client_plugin(client: Any) -> None:
    """botocore's plugin entry point: record this client's calls."""
    service = client.meta.service_model.signing_name
    region = client.meta.region_name

    def record(params: dict[str, Any], model: Any, context: dict[str, Any],
               **_: Any) -> None:
        path = os.environ.get(LOG_VARIABLE)
        if not path:
            return
        presigned = bool(context.get("is_presign_request"))
        # generate_presigned_post signs against CreateBucket's model and passes
        # only the bucket: the key is an argument of the method up the stack.
        post_key = _presigned_post_key(sys._getframe(1)) if presigned else None
        addressed = _addressed(params)
        if post_key is not None:
            addressed["Key"] = post_key
        entry = {
            "pid": os.getpid(), "service": service, "operation": model.name,
            "region": region, "presigned": presigned,
            "presigned_post": post_key is not None,
            "params": addressed, **caller(sys._getframe(1)),
        }
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    client.meta.events.register("provide-client-params", record)


def _presigned_post_key(frame: Any) -> str | None:
    while frame is not None:
        if frame.f_code.co_name == "generate_presigned_post":
            return str(frame.f_locals.get("Key"))
        frame = frame.f_back
    return None


def caller(frame: Any) -> dict[str, str]:
    """The innermost project frame below botocore: its origin and file:line."""
    while frame is not None:
        origin = origin_of(frame.f_code.co_filename)
        if origin is not None:
            return {"origin": origin, "site": f"{frame.f_code.co_filename}:{frame.f_lineno}"}
        frame = frame.f_back
    return {"origin": "other", "site": ""}


def origin_of(filename: str) -> str | None:
    """``app``, ``stack`` or ``tests`` for a project file; None for anything else."""
    try:
        relative = Path(filename).resolve().relative_to(PROJECT_DIR)
    except ValueError:
        return None
    top = relative.parts[0]
    if top in ("app.py", "chalicelib"):
        return "app"
    if top in ("stack", "tests"):
        return top
    return None


def _addressed(params: dict[str, Any]) -> dict[str, Any]:
    addressed = {name: params[name] for name in _PARAMETERS
                 if isinstance(params.get(name), str)}
    tables = set(params.get("RequestItems") or ())
    for item in params.get("TransactItems") or ():
        for request in item.values():
            if isinstance(request, dict) and request.get("TableName"):
                tables.add(request["TableName"])
    if tables:
        addressed["Tables"] = sorted(tables)
    return addressed


def read_calls(path: Path) -> Iterator[dict[str, Any]]:
    """The recorded calls, oldest first."""
    if path.exists():
        with path.open(encoding="utf-8") as log:
            for line in log:
                yield json.loads(line)


def enable(log_path: Path) -> None:
    """Record in this process and every child started after this call."""
    plugins = os.environ.get("BOTOCORE_EXPERIMENTAL__PLUGINS")
    if plugins != PLUGIN and PLUGIN not in (plugins or "").split(","):
        os.environ["BOTOCORE_EXPERIMENTAL__PLUGINS"] = ",".join(
            filter(None, [plugins, PLUGIN]))
    os.environ[LOG_VARIABLE] = str(log_path)
