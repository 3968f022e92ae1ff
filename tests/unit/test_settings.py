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


def test_upload_settings_default_to_the_dev_resources():
    blobs = Settings.from_environ({}).blobs
    assert (blobs.bucket, blobs.queue, blobs.upload_url_expires, blobs.labeller) == (
        "chalice-ref-dev-blobs", "chalice-ref-dev-blob-events", 300, "classifier")


@pytest.mark.parametrize("environ, fragment", [
    ({"LABELLER": "magic"}, "LABELLER must be one of"),
    ({"MAX_UPLOAD_BYTES": "0"}, "MAX_UPLOAD_BYTES must be >= 1"),
    ({"CALLBACK_TIMEOUT_SECONDS": "0"}, "CALLBACK_TIMEOUT_SECONDS"),
    ({"ALLOW_LOOPBACK_URLS": "perhaps"}, "ALLOW_LOOPBACK_URLS must be true or false"),
])
def test_malformed_upload_variables_name_themselves(environ, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_environ(environ)
