from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

SEED_ENDPOINTS = {
    ("post", "/register"),
    ("post", "/login"),
    ("post", "/rate"),
    ("get", "/recommendations/{user_id}"),
    ("get", "/movies/latest"),
    ("get", "/search"),
    ("get", "/my-ratings/{user_id}"),
}


def test_document_is_valid_openapi_and_lists_every_endpoint(client: FlaskClient, app: Flask) -> None:
    document = client.get("/openapi.json").get_json()
    validate(document)
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert SEED_ENDPOINTS <= operations
    assert {("get", "/movies/{movie_id}"), ("get", "/genres"), ("get", "/healthz")} <= operations
    routes = {
        (method.lower(), rule.rule.replace("<", "{").replace(">", "}"))
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        if rule.endpoint not in {"static", "system.openapi", "metrics"}  # the document itself; Prometheus text
    }
    assert routes == operations


def test_schemas_are_the_validating_models(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    rate = schemas["RateRequest"]
    assert rate["required"] == ["movie_id", "rating"]
    assert (rate["properties"]["rating"]["minimum"], rate["properties"]["rating"]["maximum"]) == (1, 10)
    assert schemas["Credentials"]["properties"]["username"]["pattern"] == "^[A-Za-z0-9_.-]{3,32}$"
    password = schemas["Credentials"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (8, 256)  # real constraints, not only documented
    for path in ("/register", "/login", "/rate", "/password"):
        assert "415" in document["paths"][path]["post"]["responses"], path
    assert set(document["paths"]["/logout"]["post"]["responses"]) >= {"204", "401"}
    search = document["paths"]["/search"]["get"]
    limit = next(p for p in search["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    rate_op = document["paths"]["/rate"]["post"]
    assert rate_op["security"] == [{"bearerAuth": []}]
    assert {"200", "400", "401", "404"} <= set(rate_op["responses"])
    assert rate_op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
