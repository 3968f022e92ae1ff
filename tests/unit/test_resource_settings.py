import json

import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import ResourceConfig, Settings, parse_resources
from stack.template import load_template, stage_variables
from tests.support.stage import REQUIRED_NAMES


def test_no_resources_by_default():
    assert Settings.from_environ(REQUIRED_NAMES).resources == ()


def test_memory_and_dynamodb_resources():
    raw = json.dumps({"mocks": {"backend": "memory", "items": [{"id": "1", "v": 1.5}]},
                      "users": {"backend": "dynamodb", "table": "chalice-ref-dev-users"}})
    assert parse_resources(raw) == (
        ResourceConfig("mocks", "memory", items=({"id": "1", "v": 1.5},)),
        ResourceConfig("users", "dynamodb", table="chalice-ref-dev-users"))


@pytest.mark.parametrize("raw, fragment", [
    ("{", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('{"a b": {"backend": "memory"}}', "resource 'a b': names use"),
    ('{"x": {"backend": "redis"}}', "resource 'x': give"),
    ('{"x": "memory"}', "resource 'x': give"),
    ('{"x": {"backend": "dynamodb"}}', "\"table\" must be a DynamoDB table name"),
    ('{"x": {"backend": "dynamodb", "table": "t"}}', "\"table\" must be"),
    ('{"x": {"backend": "dynamodb", "table": "users", "items": []}}',
     "unknown key 'items' for backend 'dynamodb'"),
    ('{"x": {"backend": "memory", "table": "users"}}', "unknown key 'table'"),
    ('{"x": {"backend": "memory", "items": {}}}', "\"items\" must be a list"),
    ('{"x": {"backend": "memory", "items": [{"name": "no id"}]}}', "an item is invalid"),
    ('{"x": {"backend": "memory", "items": [{"id": "1"}, {"id": "1"}]}}', "same id"),
])
def test_bad_resources_name_the_variable_and_entry(raw, fragment):
    with pytest.raises(ConfigurationError, match="RESOURCES") as raised:
        parse_resources(raw)
    assert fragment in str(raised.value)


def test_stage_configs_define_the_agreed_resources(project_config):
    dev = parse_resources(project_config["stages"]["dev"]["environment_variables"]
                          ["RESOURCES"])
    prod = parse_resources(project_config["stages"]["prod"]["environment_variables"]
                           ["RESOURCES"])
    assert {(r.name, r.backend, r.table) for r in dev} == {
        ("mocks", "memory", None), ("users", "dynamodb", "chalice-ref-dev-users")}
    mocks = next(r for r in dev if r.name == "mocks")
    assert [(i["id"], i["name"], i["value"]) for i in mocks.items] == [
        ("000-1", "Service", 50.0), ("000-2", "Gas Station", 1.5)]
    assert all(r.backend == "dynamodb" and r.table.startswith("chalice-ref-prod-")
               for r in prod)


def test_every_dynamodb_resource_of_every_stage_has_its_table_in_the_template(
        project_config):
    # resources.json creates the tables; a resource added to RESOURCES without
    # its table there would fail at its first request.
    template = load_template()
    from_template = {source.split(".")[1] for name, source in stage_variables(template).items()
                     if source.startswith("RESOURCES.")}
    for stage in project_config["stages"].values():
        configured = {resource.name for resource in parse_resources(
            stage["environment_variables"].get("RESOURCES")) if resource.backend == "dynamodb"}
        assert configured == from_template


@pytest.fixture
def project_config():
    from pathlib import Path
    return json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json")
                      .read_text())
