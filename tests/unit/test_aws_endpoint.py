import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import aws_endpoint_url


@pytest.mark.parametrize("environ, expected", [
    ({}, "http://127.0.0.1:5050"),
    ({"APP_STAGE": "dev", "AWS_PORT": "5151"}, "http://127.0.0.1:5151"),
    ({"AWS_PORT": "5151", "AWS_ENDPOINT_URL": "http://emulator:4566"}, "http://emulator:4566"),
    ({"APP_STAGE": "prod", "AWS_PORT": "5151"}, None),
    ({"APP_STAGE": "prod", "AWS_ENDPOINT_URL": "http://127.0.0.1:5050"}, None),
])
def test_only_the_dev_stage_talks_to_the_emulator_named_by_the_shell(environ, expected):
    assert aws_endpoint_url(environ) == expected


@pytest.mark.parametrize("port", ["abc", "0", "70000", "\u0665", "9" * 5000, " 5050"])
def test_a_bad_aws_port_names_the_variable(port):
    with pytest.raises(ConfigurationError, match="AWS_PORT"):
        aws_endpoint_url({"AWS_PORT": port})


def test_the_dev_stage_config_does_not_fix_the_endpoint():
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).parents[2] / ".chalice" / "config.json").read_text())
    for stage in config["stages"].values():
        assert "AWS_ENDPOINT_URL" not in stage["environment_variables"]
        assert "AWS_PORT" not in stage["environment_variables"]
