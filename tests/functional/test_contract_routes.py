import json

import pytest

from chalicelib.contract.openapi import build_document


def test_openapi_json_is_the_document_of_this_app(client):
    from app import app

    response = client.http.get("/openapi.json")

    assert response.status_code == 200
    assert json.loads(response.body) == build_document(app)


def test_docs_page_loads_swagger_ui_from_the_app_itself(client):
    response = client.http.get("/docs")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode()
    assert 'assets/swagger-ui-bundle.js' in page and 'openapi.json' in page
    assert "https://" not in page and "http://" not in page


@pytest.mark.parametrize("asset, content_type, marker", [
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", b"SwaggerUIBundle"),
    ("swagger-ui.css", "text/css; charset=utf-8", b".swagger-ui"),
    ("demo.js", "text/javascript; charset=utf-8", b"API_ROOT"),
    ("demo.css", "text/css; charset=utf-8", b"#histogram"),
])
def test_assets_are_served_as_text_with_their_content_type(client, asset, content_type,
                                                           marker):
    response = client.http.get(f"/assets/{asset}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert marker in response.body


@pytest.mark.parametrize("name", ["nope.js", "..%2Fpages.py", "index.html", "LICENSE"])
def test_anything_but_a_listed_asset_is_a_json_404(client, name):
    response = client.http.get(f"/assets/{name}")

    assert response.status_code == 404
    body = json.loads(response.body)
    assert body["code"] == "NotFound"
    assert "demo.js" in body["message"]


def test_demo_page_is_html_with_the_three_flows(client):
    response = client.http.get("/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.body.decode()
    for element in ('id="image-input"', 'id="stats-form"', 'id="upload-input"',
                    'id="upload-progress"', "assets/demo.js"):
        assert element in page
