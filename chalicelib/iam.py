"""IAM permissions, declared next to the code that needs them.

Every chalicelib module that calls AWS declares what it calls in a
module-level ``IAM_GRANTS`` tuple, scoped to the stage's own resources by
naming the environment variable that holds the resource's name::

    IAM_GRANTS = (
        iam.Grant(("s3:PutObject",), iam.s3_objects("BLOBS_BUCKET", prefix="uploads/"),
                  why="presigned upload URLs are signed by the function's role"),
        iam.Grant(("dynamodb:GetItem", "dynamodb:PutItem"), iam.dynamodb_table("BLOBS_TABLE")),
    )

``python -m stack policy`` (``make policy``) resolves the names from the
stage's environment in ``.chalice/config.json`` and writes
``.chalice/policy-<stage>.json``.  The test suite records every AWS call the
app makes and fails when one is missing here.  Data only: no AWS import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A resource resolves, given the stage's environment, to ARNs (none when the
# stage does not configure it).
Resolver = Callable[[Mapping[str, str]], tuple[str, ...]]


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    resource: Resolver
    why: str = ""


def s3_bucket(variable: str) -> Resolver:
    """The bucket named by ``variable`` itself (ListBucket, HeadBucket)."""
    return _named(variable, lambda name: f"arn:aws:s3:::{name}")


def s3_objects(variable: str, prefix: str = "") -> Resolver:
    """The objects under ``prefix`` in the bucket named by ``variable``."""
    return _named(variable, lambda name: f"arn:aws:s3:::{name}/{prefix}*")


def s3_uri_objects(*variables: str) -> Resolver:
    """The folders that ``s3://bucket/folder/manifest.json`` values of ``variables`` name.

    A model's manifest and its .onnx file sit side by side, so the grant is
    on the manifest's folder.  Values that are not S3 URIs (paths inside the
    package) need no grant.
    """
    def resolve(environment: Mapping[str, str]) -> tuple[str, ...]:
        arns = []
        for variable in variables:
            value = environment.get(variable, "")
            if value.startswith("s3://"):
                folder = value[len("s3://"):].rpartition("/")[0]
                arns.append(f"arn:aws:s3:::{folder}/*")
        return tuple(arns)
    return resolve


def dynamodb_table(variable: str, indexes: bool = False) -> Resolver:
    """The table named by ``variable`` (and its indexes with ``indexes``)."""
    def arns(name: str) -> tuple[str, ...]:
        table = f"arn:aws:dynamodb:*:*:table/{name}"
        return (table, f"{table}/index/*") if indexes else (table,)
    return _named_many(variable, arns)


def dynamodb_resource_tables(variable: str = "RESOURCES") -> Resolver:
    """Every DynamoDB table that the RESOURCES JSON of the stage maps a resource to."""
    def resolve(environment: Mapping[str, str]) -> tuple[str, ...]:
        from chalicelib.settings import parse_resources

        return tuple(sorted(f"arn:aws:dynamodb:*:*:table/{resource.table}"
                            for resource in parse_resources(environment.get(variable))
                            if resource.table))
    return resolve


def sqs_queue(variable: str) -> Resolver:
    """The queue named by ``variable``."""
    return _named(variable, lambda name: f"arn:aws:sqs:*:*:{name}")


def ssm_parameter(variable: str) -> Resolver:
    """The SSM parameter whose name (``/path/name``) ``variable`` holds."""
    return _named(variable,
                  lambda name: f"arn:aws:ssm:*:*:parameter/{name.lstrip('/')}")


def any_resource() -> Resolver:
    """For actions that have no resource type in IAM (e.g. rekognition:DetectLabels)."""
    return lambda environment: ("*",)


def only_when(variable: str, value: str, resource: Resolver) -> Resolver:
    """``resource``, but only for stages whose ``variable`` equals ``value``."""
    return lambda environment: (resource(environment)
                                if environment.get(variable) == value else ())


def _named(variable: str, arn: Callable[[str], str]) -> Resolver:
    return _named_many(variable, lambda name: (arn(name),))


def _named_many(variable: str, arns: Callable[[str], tuple[str, ...]]) -> Resolver:
    def resolve(environment: Mapping[str, str]) -> tuple[str, ...]:
        name = environment.get(variable)
        return arns(name) if name else ()
    return resolve
