"""CloudWatch Embedded Metric Format: the metrics each log record carries.

A record that holds ``_aws.CloudWatchMetrics`` is turned into metrics by
CloudWatch Logs on ingestion: no API call, no agent, nothing at cold start.
Each request's and each message's one log line is such a record, so a metric
and the line it came from are the same event.  Which fields become which
metrics is decided here, in one table per record kind.
"""

from __future__ import annotations

from typing import Any

# Dimension sets: every metric is published once per set, so the stage-wide
# series (alarms) and the per-route series (the dashboard) come from one line.
REQUEST_DIMENSIONS = (("stage",), ("stage", "route"))
STAGE_DIMENSIONS = (("stage",),)

MILLISECONDS = "Milliseconds"
COUNT = "Count"


def request_metrics(fields: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Metrics of one HTTP request's record: name -> (value, unit)."""
    status = int(fields.get("status") or 500)
    metrics = {
        "Requests": (1, COUNT),
        "Errors4xx": (int(400 <= status < 500), COUNT),
        "Errors5xx": (int(status >= 500), COUNT),
        "Latency": (fields["latency_ms"], MILLISECONDS),
    }
    if "images" in fields:
        metrics["ImagesPerRequest"] = (fields["images"], COUNT)
        metrics["FailedImages"] = (fields.get("failed_images", 0), COUNT)
        decoded = fields["images"] - fields.get("failed_images", 0)
        if decoded > 0 and "model_ms" in fields:
            metrics["ModelTimePerImage"] = (round(fields["model_ms"] / decoded, 3),
                                            MILLISECONDS)
    return metrics


def message_metrics(fields: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Metrics of one queue message's record: name -> (value, unit)."""
    metrics = {"Messages": (1, COUNT),
               "MessagesRetried": (int(fields.get("outcome") == "retry"), COUNT)}
    if fields.get("time_to_label_ms") is not None:
        metrics["TimeToLabel"] = (fields["time_to_label_ms"], MILLISECONDS)
    if fields.get("callback") in ("delivered", "failed"):
        metrics["CallbacksDelivered"] = (int(fields["callback"] == "delivered"), COUNT)
        metrics["CallbacksFailed"] = (int(fields["callback"] == "failed"), COUNT)
    return metrics


def embed(record: dict[str, Any], namespace: str, dimensions: tuple[tuple[str, ...], ...],
          metrics: dict[str, tuple[float, str]], timestamp_ms: int) -> dict[str, Any]:
    """``record`` with the metrics' values and the ``_aws`` directive that names them.

    Dimension values must be strings in the record; a metric name must not
    already be a field of it (it would be overwritten).
    """
    clashes = sorted(set(metrics) & set(record))
    if clashes:
        raise ValueError(f"metric names {clashes} clash with the record's fields")
    embedded = dict(record)
    embedded["_aws"] = {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{
            "Namespace": namespace,
            "Dimensions": [list(names) for names in dimensions],
            "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
        }],
    }
    for name, (value, _) in metrics.items():
        embedded[name] = value
    return embedded
