import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings


def test_defaults_apply_when_variables_are_absent():
    settings = Settings.from_environ({})
    assert settings.stage == "dev"
    assert settings.stats_max_numbers == 1_000_000


@pytest.mark.parametrize("environ, fragment", [
    ({"STATS_MAX_NUMBERS": "lots"}, "STATS_MAX_NUMBERS must be an integer"),
    ({"STATS_MAX_NUMBERS": "0"}, "STATS_MAX_NUMBERS must be >= 1"),
])
def test_malformed_variables_name_themselves(environ, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_environ(environ)
