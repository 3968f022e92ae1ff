import pytest
from chalice import IAMAuthorizer
from openapi_spec_validator import validate

from app import app
from chalicelib.contract.openapi import BODY_METHODS, build_document, find_problems
from chalicelib.contract.operations import OPERATIONS
from chalicelib.web import Api


def _routes_of(document):
    return {(path, method.upper())
            for path, operations in document["paths"].items() for method in operations}


def _routes_of_app(chalice_app):
    return {(path, method)
            for path, methods in chalice_app.routes.items() for method in methods}


def _app_with(routes):
    """An app whose route table holds ``routes`` (path, method, content types, IAM)."""
    made = Api(app_name="contract-test")
    for path, method, content_types, secured in routes:
        options = {"methods": [method]}
        if content_types:
            options["content_types"] = content_types
        if secured:
            options["authorizer"] = IAMAuthorizer()
        made.route(path, **options)(_view(f"{method}_{path}"))
    return made


def _view(name):
    def view(**_):
        return {}
    view.__name__ = name
    return view


def test_the_document_is_valid_openapi_3_1():
    document = build_document(app)

    validate(document)
    assert document["openapi"] == "3.1.0"


def test_the_document_names_exactly_the_apps_routes_and_methods():
    assert _routes_of(build_document(app)) == _routes_of_app(app)


def test_every_route_of_the_app_has_a_complete_entry():
    assert find_problems(app) == []


def test_a_route_without_an_entry_is_reported_and_still_listed():
    undocumented = _app_with([("/stats", "GET", None, False),
                              ("/brand-new", "GET", None, False)])

    problems = find_problems(undocumented)
    document = build_document(undocumented)

    assert problems == ["GET /brand-new has no entry in chalicelib/contract/operations.py"]
    assert "/brand-new" in document["paths"]
    validate(document)


def test_routes_the_app_lacks_are_not_in_its_document():
    partial = _app_with([("/health", "GET", None, False)])

    assert _routes_of(build_document(partial)) == {("/health", "GET")}


def test_a_body_content_type_without_a_schema_is_reported():
    drifted = _app_with([("/stats", "POST", ["application/json", "text/csv"], False)])

    assert find_problems(drifted) == [
        "POST /stats accepts ['application/json', 'text/csv'] but its entry documents "
        "request bodies for ['application/json']"]


def test_a_route_taking_any_type_documents_the_types_its_view_reads():
    wildcard = _app_with([("/predict", "POST", ["*/*"], False)])

    document = build_document(wildcard)

    assert find_problems(wildcard) == []
    content = document["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in content and "image/png" in content
    assert "*/*" not in content


def test_iam_routes_require_sigv4_and_document_the_gateways_403():
    secured = _app_with([("/hello", "GET", None, True), ("/health", "GET", None, False)])

    document = build_document(secured)

    hello = document["paths"]["/hello"]["get"]
    assert hello["security"] == [{"sigv4": []}]
    assert hello["responses"]["403"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GatewayError"}
    assert "security" not in document["paths"]["/health"]["get"]
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header",
                                                             "Authorization")


def test_routes_with_a_body_document_each_content_type_and_the_415_in_our_shape():
    operation = build_document(app)["paths"]["/stats"]["post"]

    assert set(operation["requestBody"]["content"]) == set(
        app.routes["/stats"]["POST"].content_types)
    assert operation["responses"]["415"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}


def test_path_parameters_come_from_the_route_table():
    operation = build_document(app)["paths"]["/assets/{asset}"]["get"]

    assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [
        ("asset", "path", True)]


def test_error_responses_share_the_apps_error_shape():
    document = build_document(app)

    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message"]
    assert document["paths"]["/stats"]["get"]["responses"]["400"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


SECURED = {("/hello", "GET"), ("/goodbye", "GET"), ("/whoami", "GET")}


def test_every_entry_describes_a_valid_operation_once_its_route_exists():
    # Every entry must make a valid operation, whichever routes the app has.
    every_route = _app_with([
        (path, method,
         list(entry.get("request", {})) if method in BODY_METHODS else None,
         (path, method) in SECURED)
        for (path, method), entry in OPERATIONS.items()])

    document = build_document(every_route)

    validate(document)
    assert find_problems(every_route) == []
    assert _routes_of(document) == set(OPERATIONS)


@pytest.mark.parametrize("path, method", sorted(OPERATIONS))
def test_every_entry_documents_a_success_and_a_summary(path, method):
    entry = OPERATIONS[(path, method)]

    assert entry["summary"]
    assert any(status.startswith("2") for status in entry["responses"])
