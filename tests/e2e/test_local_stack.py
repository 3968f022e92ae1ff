import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import requests

from stack.emulator import free_port
from tests.e2e.conftest import PROJECT_DIR, start_local_stack


def test_stats_over_http(local_stack):
    response = requests.get(f"{local_stack.base_url}/stats/",
                            params={"numbers": ["5", "6"]}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["mean"] == 5.5


def test_post_stats_over_http(local_stack):
    response = requests.post(f"{local_stack.base_url}/stats",
                             json={"numbers": list(range(10_000))}, timeout=30)
    assert response.status_code == 200
    assert response.json()["nobs"] == 10_000


def test_bad_input_over_http_is_json_400(local_stack):
    response = requests.get(f"{local_stack.base_url}/stats?numbers=abc", timeout=10)
    assert response.status_code == 400
    assert response.json()["value"] == "abc"


def test_health_over_http(local_stack):
    assert requests.get(f"{local_stack.base_url}/health", timeout=10).json()["status"] == "ok"


def test_ctrl_c_stops_everything_cleanly(tmp_path):
    stack = start_local_stack(tmp_path / "stack.log")
    assert requests.get(f"{stack.base_url}/health", timeout=10).status_code == 200
    assert stack.stop() == 0
    log = stack.log()
    assert "Local credentials:" in log and "AWS_ACCESS_KEY_ID=testing" in log
    assert "Stopped the API and the AWS emulator." in log
    assert "Traceback" not in log


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_stack_stops_on_sigint_and_sigterm_even_when_started_ignoring_sigint(
        tmp_path, signum):
    stack = start_local_stack(tmp_path / "stack.log", ignore_sigint=True)
    assert requests.get(f"{stack.base_url}/health", timeout=10).status_code == 200

    assert stack.stop(signum=signum) == 0
    assert "Stopped the API and the AWS emulator." in stack.log()


@pytest.mark.parametrize("busy_role, variable", [("API", "PORT="),
                                                 ("AWS emulator", "AWS_PORT=")])
def test_a_busy_port_is_named_and_the_stack_exits_at_once(busy_role, variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {"API": busy, "AWS emulator": free_port()} if busy_role == "API" else {
            "API": free_port(), "AWS emulator": busy}
        environment = {key: value for key, value in os.environ.items()
                       if not key.startswith("AWS_")}
        finished = subprocess.run(
            [sys.executable, "-m", "stack", "run", "--port", str(ports["API"]),
             "--aws-port", str(ports["AWS emulator"])],
            cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=60)

    assert finished.returncode == 2
    assert f"port {busy} on 127.0.0.1 for the {busy_role} is in use" in finished.stderr
    assert variable in finished.stderr
    assert "Traceback" not in finished.stderr


def _raw_exchange(base_url: str, request: bytes) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_any_method_the_api_does_not_route_is_a_json_405(local_stack, method):
    response = requests.request(method, f"{local_stack.base_url}/stats?numbers=1",
                                timeout=10)

    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == "MethodNotAllowed"
    assert method in response.json()["message"]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"\xd9\xa1", b"5, 6"])
def test_a_malformed_content_length_is_a_json_400(local_stack, length):
    answer = _raw_exchange(local_stack.base_url,
                           b"POST /stats HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"application/json\r\nContent-Length: " + length + b"\r\n\r\n{}")

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["code"] == "InvalidInput"
    assert "Content-Length" in json.loads(body)["message"]


def test_the_emulator_port_is_the_one_make_run_was_given(local_stack):
    log = local_stack.log()
    assert f"AWS emulator (moto):  {local_stack.aws_endpoint}" in log


def test_a_restart_forgets_everything_unless_persistence_is_asked_for(tmp_path):
    record = {"id": f"kept-{os.getpid()}", "name": "kept across restarts"}
    kept_file = tmp_path / "emulator-requests.jsonl"

    def run_once(extra_env):
        stack = start_local_stack(tmp_path / "stack.log", extra_env=extra_env)
        try:
            found = requests.get(f"{stack.base_url}/api/users/{record['id']}", timeout=10)
            if found.status_code == 404:
                created = requests.post(f"{stack.base_url}/api/users", json=record, timeout=10)
                assert created.status_code == 201
        finally:
            assert stack.stop() == 0
        return found.status_code

    assert run_once({}) == 404
    assert run_once({}) == 404  # the emulator keeps its data in memory only
    assert run_once({"PERSIST": str(kept_file)}) == 404
    assert run_once({"PERSIST": str(kept_file)}) == 200
    assert "writes replayed" in (tmp_path / "stack.log").read_text()
