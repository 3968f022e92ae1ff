"""What API Gateway is told to enforce when the app is deployed: Chalice's
generated API definition, not anything the handler does."""

import pytest
from chalice.deploy.swagger import SwaggerGenerator

from app import app

IAM_ROUTES = ["/hello", "/goodbye", "/whoami"]


@pytest.fixture(scope="module")
def api_definition():
    return SwaggerGenerator("us-east-1", {
        "api_handler_arn": "arn:aws:lambda:us-east-1:123456789012:function:api_handler",
        "api_handler_name": "api_handler",
    }).generate_swagger(app)


@pytest.mark.parametrize("path", IAM_ROUTES)
def test_secured_routes_require_sigv4_at_api_gateway(api_definition, path):
    assert api_definition["paths"][path]["get"]["security"] == [{"sigv4": []}]
    assert api_definition["securityDefinitions"]["sigv4"][
        "x-amazon-apigateway-authtype"] == "awsSigv4"


@pytest.mark.parametrize("path", ["/health", "/stats"])
def test_public_routes_stay_open(api_definition, path):
    assert "security" not in api_definition["paths"][path]["get"]
