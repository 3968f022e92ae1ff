"""Stage environments for tests of settings."""

# The variables no stage may leave out (resource names have no defaults);
# with only these, every other setting takes its default.
REQUIRED_NAMES = {
    "BLOBS_BUCKET": "test-blobs",
    "BLOBS_TABLE": "test-blobs",
    "BLOBS_QUEUE": "test-blob-events",
    "BLOBS_DLQ": "test-blob-events-dlq",
    "CALLBACK_SECRET_PARAMETER": "/test/callback-secret",
}


def dev_stage_settings() -> dict[str, str]:
    """The dev stage's variables from .chalice/config.json, without its AWS
    endpoint and credentials (the emulator fixture provides those)."""
    from stack.policy import stage_environment

    return {name: value for name, value in stage_environment("dev").items()
            if not name.startswith("AWS_")}
