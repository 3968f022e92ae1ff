"""resources.json: the one description of a stage's AWS resources, and its reader.

Every path that creates a stage's resources starts here: ``make run`` (the
emulator), ``make deploy`` (a CloudFormation stack, then ``chalice deploy``)
and ``make package`` (merged into Chalice's template).  The per-stage values
(names, timeouts, the upload origin) are the template's parameters; the
template's ``Metadata.StageEnvironment`` says which variable of the stage's
environment in ``.chalice/config.json`` gives each one, so a name is typed
once, in that file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from chalicelib.errors import ConfigurationError

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_FILE = "resources.json"


class SecureParameter(NamedTuple):
    """An SSM SecureString the stage needs; CloudFormation cannot create these."""

    name: str
    description: str


def load_template(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The template as committed."""
    return json.loads((project_dir / TEMPLATE_FILE).read_text())


def stack_name(stage: str, project_dir: Path = PROJECT_DIR) -> str:
    """The CloudFormation stack holding ``stage``'s resources (not its functions)."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    return f"{config['app_name']}-{stage}-resources"


def stage_variables(template: Mapping[str, Any]) -> dict[str, str]:
    """Parameter name -> the stage variable giving its value (``VAR`` or ``VAR.key``)."""
    return dict(template.get("Metadata", {}).get("StageEnvironment", {}))


def stack_parameters(template: Mapping[str, Any], environment: Mapping[str, str]
                     ) -> dict[str, str]:
    """Each parameter's value for the stage whose environment is given.

    Parameters not listed in StageEnvironment take their template Default.
    Raises ConfigurationError naming the variable a parameter needs.
    """
    sources = stage_variables(template)
    values = {}
    for name, declaration in template.get("Parameters", {}).items():
        if name in sources:
            values[name] = stage_value(environment, sources[name])
        elif "Default" in declaration:
            values[name] = str(declaration["Default"])
        else:
            raise ConfigurationError(
                f"{TEMPLATE_FILE}: parameter {name} has no Default and no stage variable "
                "in Metadata.StageEnvironment")
    return values


def stage_value(environment: Mapping[str, str], source: str) -> str:
    """The value ``source`` names: a variable, or ``VARIABLE.key.key`` inside its JSON."""
    variable, *path = source.split(".")
    raw = environment.get(variable)
    if raw is None or raw == "":
        raise ConfigurationError(f"environment variable {variable} must be set "
                                 f"({TEMPLATE_FILE} needs it)")
    value: Any = raw
    try:
        for key in path:
            value = (json.loads(value) if isinstance(value, str) else value)[key]
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError(f"environment variable {variable} has no "
                                 f"{'.'.join(path)} ({TEMPLATE_FILE} needs it)") from None
    return str(value)


def recorded_environment(template: Mapping[str, Any], outputs: Mapping[str, str],
                         environment: Mapping[str, str]) -> dict[str, str]:
    """The stage variables the stack's outputs give, as they should read now.

    An output named like a parameter reports the value of that parameter's
    stage variable (the Chalice workshop's "record the stack's outputs in
    the stage's environment").  Only the variables that change are returned.
    """
    changes: dict[str, str] = {}
    for name, source in stage_variables(template).items():
        if name not in outputs:
            continue
        variable, *path = source.split(".")
        current = changes.get(variable, environment.get(variable, ""))
        if not path:
            updated = outputs[name]
        else:
            document = json.loads(current) if current else {}
            before = json.dumps(document, sort_keys=True)
            node = document
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = outputs[name]
            unchanged = json.dumps(document, sort_keys=True) == before
            updated = current if unchanged else json.dumps(document)
        if updated != environment.get(variable):
            changes[variable] = updated
    return changes


def secure_parameters(template: Mapping[str, Any], parameters: Mapping[str, str]
                      ) -> list[SecureParameter]:
    """The SecureString parameters the template's Metadata asks for, names resolved."""
    found = []
    for entry in template.get("Metadata", {}).get("SecureStringParameters", []):
        name = resolve(entry["Name"], lambda ref: parameters[ref], _no_attributes)
        found.append(SecureParameter(name, entry.get("Description", "")))
    return found


def _no_attributes(logical_id: str, attribute: str) -> str:
    raise ValueError(f"Fn::GetAtt {logical_id}.{attribute} cannot be resolved here")


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")


def resolve(value: Any, ref: Callable[[str], str],
            get_att: Callable[[str, str], str]) -> Any:
    """``value`` with Ref, Fn::GetAtt and Fn::Sub replaced, as CloudFormation would.

    ``ref`` answers ``Ref`` (parameters, resources, pseudo parameters) and
    ``get_att`` answers ``Fn::GetAtt``; both see the names Fn::Sub uses too.
    """
    if isinstance(value, list):
        return [resolve(item, ref, get_att) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return ref(value["Ref"])
    if set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        return get_att(logical_id, attribute)
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name and not name.startswith("AWS::"):
                return get_att(*name.split(".", 1))
            return ref(name)
        return _SUB_NAME.sub(substitute, value["Fn::Sub"])
    return {key: resolve(item, ref, get_att) for key, item in value.items()}


def check_stage(stage: str, project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """Check ``stage``'s settings and the template's values for it; returns the latter.

    Raises ConfigurationError naming the first missing or malformed variable.
    """
    from chalicelib.settings import Settings
    from stack.policy import stage_environment

    environment = stage_environment(stage, project_dir)
    Settings.from_environ(environment)
    return stack_parameters(load_template(project_dir), environment)


def main(argv: list[str] | None = None) -> int:
    """``python -m stack check --stage prod``: the stage's settings, checked; nothing created."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m stack check", description=main.__doc__)
    parser.add_argument("--stage", action="append", required=True,
                        help="a stage of .chalice/config.json (repeat for several)")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    for stage in args.stage:
        try:
            parameters = check_stage(stage, args.project_dir)
        except (ConfigurationError, KeyError) as error:
            print(f"stage {stage}: {error}", file=sys.stderr)
            return 1
        print(f"stage {stage}: settings valid; {TEMPLATE_FILE} parameters:")
        print(format_parameters(parameters))
    return 0


def format_parameters(parameters: Mapping[str, str]) -> str:
    """One ``Name = value`` line per parameter, for people (an empty value shows as ``""``)."""
    width = max(map(len, parameters), default=0)
    shown = {name: value if value else '""' for name, value in parameters.items()}
    return "\n".join(f"  {name:<{width}} = {value}" for name, value in shown.items())
