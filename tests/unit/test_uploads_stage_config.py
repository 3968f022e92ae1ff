"""The prod stage's numbers must fit together, or SQS and Lambda work against each other."""

import json
from pathlib import Path

from app import app
from chalicelib.settings import BlobSettings
from chalicelib.uploads.processing import CallbackSettings, Processor

CONFIG = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json")
                    .read_text())


def prod_processor_and_timeout():
    stage = CONFIG["stages"]["prod"]
    environ = {**CONFIG.get("environment_variables", {}), **stage["environment_variables"]}
    blobs = BlobSettings.from_environ(environ)
    processor = Processor(None, None, None, None, max_upload_bytes=blobs.max_upload_bytes,
                          max_labels=blobs.max_labels,
                          callback=CallbackSettings(blobs.callback_attempts,
                                                    blobs.callback_backoff_seconds,
                                                    blobs.callback_timeout_seconds, False))
    timeout = stage["lambda_functions"]["handle_blob_event"]["lambda_timeout"]
    return environ, processor, timeout


def test_a_full_batch_fits_in_the_handlers_timeout():
    _, processor, timeout = prod_processor_and_timeout()
    [source] = [source for source in app.event_sources if source.name == "handle_blob_event"]
    assert source.batch_size * processor.worst_case_seconds < timeout


def test_a_dead_letter_fits_in_its_handlers_timeout_and_the_dlqs_visibility():
    _, processor, _ = prod_processor_and_timeout()
    timeout = CONFIG["stages"]["prod"]["lambda_functions"]["handle_dead_blob_event"][
        "lambda_timeout"]
    [source] = [source for source in app.event_sources
                if source.name == "handle_dead_blob_event"]
    resources = json.loads((Path(__file__).resolve().parents[2] / "resources.json")
                           .read_text())["Resources"]
    # resources.json leaves the DLQ at SQS's default visibility timeout, 30 s.
    visibility = resources["BlobEventsDeadLetterQueue"]["Properties"].get(
        "VisibilityTimeout", 30)
    assert source.batch_size * processor.callback_worst_case_seconds < timeout <= visibility


def test_the_queue_hides_a_message_for_six_function_timeouts():
    # AWS's advice for SQS event sources: visibility timeout >= 6 x function timeout.
    environ, _, timeout = prod_processor_and_timeout()
    assert int(environ["BLOBS_VISIBILITY_TIMEOUT"]) >= 6 * timeout


def test_prod_refuses_loopback_callbacks_and_reports_partial_batches():
    environ, _, _ = prod_processor_and_timeout()
    assert environ["ALLOW_LOOPBACK_URLS"] == "false"
    assert BlobSettings.from_environ(environ).report_batch_item_failures
