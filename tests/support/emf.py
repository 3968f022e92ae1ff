"""CloudWatch's Embedded Metric Format specification, as a checker for log lines.

Written from the specification ("Specification: Embedded metric format",
Amazon CloudWatch User Guide): the structure of ``_aws`` and its directives,
the allowed units and storage resolutions, and the rules JSON Schema cannot
say -- every dimension and metric a directive names is a member of the
record, dimensions are strings, metric values are numbers (or arrays of at
most 100 numbers).
"""

from __future__ import annotations

import json
import time
from typing import Any

UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
    "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
    "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
    "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"})
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100
MAX_EVENT_BYTES = 1024 * 1024
# CloudWatch accepts metric timestamps up to two weeks old and two hours ahead.
_PAST_MS, _FUTURE_MS = 14 * 24 * 3600 * 1000, 2 * 3600 * 1000


def emf_problems(line: str, now_ms: int | None = None) -> list[str]:
    """What makes the log line ``line`` an invalid EMF record (empty: valid)."""
    if len(line.encode("utf-8")) > MAX_EVENT_BYTES:
        return ["the record is larger than a CloudWatch log event may be"]
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return [f"not one JSON value: {error}"]
    if not isinstance(record, dict):
        return ["the record is not a JSON object"]
    metadata = record.get("_aws")
    if not isinstance(metadata, dict):
        return ["_aws is missing or not an object"]
    problems = []
    timestamp = metadata.get("Timestamp")
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    if not _is_number(timestamp):
        problems.append("_aws.Timestamp must be a number (milliseconds since the epoch)")
    elif not now_ms - _PAST_MS <= timestamp <= now_ms + _FUTURE_MS:
        problems.append(f"_aws.Timestamp {timestamp} is outside what CloudWatch accepts")
    directives = metadata.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*problems, "_aws.CloudWatchMetrics must be a non-empty array"]
    for index, directive in enumerate(directives):
        problems += [f"directive {index}: {problem}"
                     for problem in _directive_problems(directive, record)]
    return problems


def _directive_problems(directive: Any, record: dict[str, Any]) -> list[str]:
    if not isinstance(directive, dict):
        return ["not an object"]
    problems = []
    unknown = set(directive) - {"Namespace", "Dimensions", "Metrics"}
    if unknown:
        problems.append(f"unknown members {sorted(unknown)}")
    namespace = directive.get("Namespace")
    if not (isinstance(namespace, str) and 1 <= len(namespace) <= 1024
            and namespace.strip() == namespace and not namespace.startswith("AWS/")):
        problems.append(f"Namespace {namespace!r} is not a valid custom namespace")
    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list):
        problems.append("Dimensions must be an array of dimension sets")
        dimension_sets = []
    for names in dimension_sets:
        if not (isinstance(names, list) and len(names) <= MAX_DIMENSIONS_PER_SET
                and all(isinstance(name, str) and name for name in names)):
            problems.append(f"dimension set {names!r} must be up to 30 names")
            continue
        for name in names:
            value = record.get(name)
            if not (isinstance(value, str) and 1 <= len(value) <= 1024):
                problems.append(f"dimension {name!r} must be a member holding a string, "
                                f"got {value!r}")
    metrics = directive.get("Metrics")
    if not (isinstance(metrics, list) and 1 <= len(metrics) <= MAX_METRICS_PER_DIRECTIVE):
        return [*problems, "Metrics must be an array of 1 to 100 metric definitions"]
    seen = set()
    for metric in metrics:
        problems += _metric_problems(metric, record)
        if isinstance(metric, dict):
            if metric.get("Name") in seen:
                problems.append(f"metric {metric.get('Name')!r} is defined twice")
            seen.add(metric.get("Name"))
    return problems


def _metric_problems(metric: Any, record: dict[str, Any]) -> list[str]:
    if not isinstance(metric, dict):
        return [f"metric definition {metric!r} is not an object"]
    problems = []
    unknown = set(metric) - {"Name", "Unit", "StorageResolution"}
    if unknown:
        problems.append(f"metric {metric.get('Name')!r}: unknown members {sorted(unknown)}")
    name = metric.get("Name")
    if not (isinstance(name, str) and 1 <= len(name) <= 1024):
        return [*problems, f"metric name {name!r} must be a string of 1 to 1024 characters"]
    if "Unit" in metric and metric["Unit"] not in UNITS:
        problems.append(f"metric {name!r}: unit {metric['Unit']!r} is not a CloudWatch unit")
    if "StorageResolution" in metric and metric["StorageResolution"] not in (1, 60):
        problems.append(f"metric {name!r}: StorageResolution must be 1 or 60")
    value = record.get(name)
    values = value if isinstance(value, list) else [value]
    if not (1 <= len(values) <= MAX_VALUES_PER_METRIC and all(map(_is_number, values))):
        problems.append(f"metric {name!r}: the record's value {value!r} is not a number "
                        "or an array of up to 100 numbers")
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and (
        value == value and value not in (float("inf"), float("-inf")))


def emf_lines(text: str) -> list[str]:
    """The lines of a log that are JSON objects carrying ``_aws`` (EMF records)."""
    return [line for line in text.splitlines()
            if line.startswith("{") and '"_aws"' in line]
