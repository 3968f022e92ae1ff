import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings
from tests.support.stage import REQUIRED_NAMES


def test_defaults_apply_when_variables_are_absent():
    settings = Settings.from_environ(REQUIRED_NAMES)
    assert settings.stage == "dev"
    assert settings.stats_max_numbers == 1_000_000


@pytest.mark.parametrize("environ, fragment", [
    ({"STATS_MAX_NUMBERS": "lots"}, "STATS_MAX_NUMBERS must be an integer"),
    ({"STATS_MAX_NUMBERS": "0"}, "STATS_MAX_NUMBERS must be >= 1"),
])
def test_malformed_variables_name_themselves(environ, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_environ({**REQUIRED_NAMES, **environ})


def test_prediction_defaults_are_safe_for_production():
    settings = Settings.from_environ(REQUIRED_NAMES)
    assert settings.max_images == 16
    # 4.4 MB base64-encoded is 5.87 MB: inside Lambda's 6 MB payload with room
    # for the rest of the event.
    assert settings.max_request_bytes * 4 / 3 < 6 * 1024 * 1024 - 300_000
    assert settings.detection_threshold == 0.4
    assert settings.allow_loopback_urls is False
    assert settings.cors_allow_origin is None


@pytest.mark.parametrize("environ, fragment", [
    ({"DETECTION_THRESHOLD": "1.5"}, "DETECTION_THRESHOLD must be between 0.0 and 1.0"),
    ({"DETECTION_THRESHOLD": "nan"}, "DETECTION_THRESHOLD must be between"),
    ({"MAX_IMAGES": "0"}, "MAX_IMAGES must be >= 1"),
    ({"ALLOW_LOOPBACK_URLS": "maybe"}, "ALLOW_LOOPBACK_URLS must be true or false"),
])
def test_malformed_prediction_variables_name_themselves(environ, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_environ({**REQUIRED_NAMES, **environ})


def test_the_stages_configure_prediction_safely():
    import json
    from pathlib import Path

    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json")
                        .read_text())
    dev = Settings.from_environ(config["stages"]["dev"]["environment_variables"])
    prod = Settings.from_environ(config["stages"]["prod"]["environment_variables"])
    assert (dev.allow_loopback_urls, dev.cors_allow_origin) == (True, "*")
    assert prod.allow_loopback_urls is False
    assert prod.cors_allow_origin not in (None, "*")


@pytest.mark.parametrize("missing", sorted(REQUIRED_NAMES))
def test_resource_names_have_no_default(missing):
    environ = {name: value for name, value in REQUIRED_NAMES.items() if name != missing}
    with pytest.raises(ConfigurationError, match=f"{missing} must be set"):
        Settings.from_environ(environ)


def test_upload_settings_default_only_their_limits():
    blobs = Settings.from_environ(REQUIRED_NAMES).blobs
    assert (blobs.bucket, blobs.queue, blobs.upload_url_expires, blobs.labeller) == (
        "test-blobs", "test-blob-events", 300, "classifier")


@pytest.mark.parametrize("environ, fragment", [
    ({"LABELLER": "magic"}, "LABELLER must be one of"),
    ({"MAX_UPLOAD_BYTES": "0"}, "MAX_UPLOAD_BYTES must be >= 1"),
    ({"CALLBACK_TIMEOUT_SECONDS": "0"}, "CALLBACK_TIMEOUT_SECONDS"),
    ({"ALLOW_LOOPBACK_URLS": "perhaps"}, "ALLOW_LOOPBACK_URLS must be true or false"),
])
def test_malformed_upload_variables_name_themselves(environ, fragment):
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_environ({**REQUIRED_NAMES, **environ})
