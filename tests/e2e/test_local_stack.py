import requests

from tests.e2e.conftest import start_local_stack


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
