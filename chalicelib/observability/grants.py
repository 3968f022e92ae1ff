"""What X-Ray tracing needs of the function's role (collected by `make policy`).

Kept apart from tracing.py so that a traced cold start does not import
chalicelib.iam: nothing at run time imports this module.
"""

from __future__ import annotations

from chalicelib import iam

# Lambda's X-Ray daemon sends with the function's role; X-Ray has no
# resource-level permissions, hence "*".
IAM_GRANTS = (
    iam.Grant(("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
              lambda environment: ("*",) if environment.get("TRACING", "").lower()
              in ("1", "true", "yes", "on") else (),
              why="active tracing (TRACING=true, Chalice's xray setting)"),
)
