"""Create a stage's resources from resources.json as a CloudFormation stack.

The same call builds the dev stage in the local emulator (``make run``, the
tests) and a deployed stage's resources in AWS (``make deploy``, or alone:
``python -m stack provision --stage prod``).  Running it again updates the
stack; the callback secret, which CloudFormation cannot create, is created
beforehand with a random value and never replaced.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stack.template import (
    PROJECT_DIR,
    SecureParameter,
    format_parameters,
    load_template,
    secure_parameters,
    stack_name,
    stack_parameters,
)


def provision_stage(session: Any, stage: str, environment: Mapping[str, str],
                    project_dir: Path = PROJECT_DIR, emulated: bool = False
                    ) -> dict[str, str]:
    """Create or update ``stage``'s resources stack; returns the stack's outputs.

    With ``emulated``, what the emulator's CloudFormation skips is applied
    afterwards (see stack/emulated.py).  Raises ConfigurationError when the
    environment lacks a variable the template needs, and botocore's errors
    (a failed stack included) as they come.
    """
    template = load_template(project_dir)
    parameters = stack_parameters(template, environment)
    if emulated:
        from stack.emulated import without_monitoring

        template = without_monitoring(template)
    ssm = session.client("ssm")
    for parameter in secure_parameters(template, parameters):
        ensure_secret_parameter(ssm, parameter)
    name = stack_name(stage, project_dir)
    outputs = deploy_stack(session.client("cloudformation"), name, template, parameters)
    if emulated:
        from stack.emulated import complete_stack

        complete_stack(session, template, parameters, name)
    return outputs


def deploy_stack(cloudformation: Any, name: str, template: Mapping[str, Any],
                 parameters: Mapping[str, str]) -> dict[str, str]:
    """Create the stack, or update it if it exists; wait; returns its outputs."""
    request = {"StackName": name, "TemplateBody": json.dumps(template),
               "Parameters": [{"ParameterKey": key, "ParameterValue": value}
                              for key, value in parameters.items()]}
    if _stack_exists(cloudformation, name):
        try:
            cloudformation.update_stack(**request)
        except cloudformation.exceptions.ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
        else:
            cloudformation.get_waiter("stack_update_complete").wait(
                StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360})
    else:
        cloudformation.create_stack(**request)
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360})
    [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _stack_exists(cloudformation: Any, name: str) -> bool:
    try:
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return False
        raise
    return stack["StackStatus"] != "DELETE_COMPLETE"


def ensure_secret_parameter(ssm: Any, parameter: SecureParameter) -> None:
    """Create the SecureString parameter with a random value unless it exists."""
    try:
        ssm.put_parameter(Name=parameter.name, Value=secrets.token_urlsafe(32),
                          Type="SecureString", Description=parameter.description)
    except ssm.exceptions.ParameterAlreadyExists:
        pass


def main(argv: list[str] | None = None) -> int:
    """``python -m stack provision --stage prod``: the stage's resources stack in AWS.

    Uses the ordinary AWS credential chain (profile, environment, role) and
    region; safe to run again.
    """
    import argparse

    import boto3

    from stack.policy import stage_environment

    parser = argparse.ArgumentParser(prog="python -m stack provision",
                                     description=main.__doc__)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the stack's parameters, create nothing")
    args = parser.parse_args(argv)
    environment = stage_environment(args.stage, args.project_dir)
    name = stack_name(args.stage, args.project_dir)
    parameters = stack_parameters(load_template(args.project_dir), environment)
    print(f"stack {name}, parameters:\n{format_parameters(parameters)}", flush=True)
    if not args.dry_run:
        outputs = provision_stage(boto3.session.Session(), args.stage, environment,
                                  args.project_dir)
        print(f"stack {name} is up to date: {outputs}", flush=True)
    return 0
