"""The OpenAPI 3.1 document, built from the ``EndpointSpec`` every ``@endpoint`` view carries (``api/binding.py``);
status texts come from the API's one status table (``api/errors.py``)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from movierec.api.binding import EndpointSpec
from movierec.api.errors import status_text
from movierec.domain.ids import MAX_ID

_PATH_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value, never null: drop the null branch of ``X | None`` fields."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        values = [b for b in branches if b != {"type": "null"}]
        if len(values) == 1:
            rest = {k: v for k, v in schema.items() if k != "anyOf" and not (k == "default" and v is None)}
            return {**values[0], **rest}
    return schema


def build_openapi(app: Flask, title: str, version: str, error_model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI 3.1 document of every endpoint registered with ``@endpoint``."""
    specs: list[tuple[str, str, EndpointSpec]] = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        spec = getattr(view, "endpoint_spec", None)
        if spec is None:
            continue
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            specs.append((path, method.lower(), spec))

    bodies = {spec.body for _, _, spec in specs if spec.body is not None}
    responses = {error_model} | {spec.response for _, _, spec in specs if spec.response is not None}
    _, top = models_json_schema(
        [(m, "validation") for m in sorted(bodies, key=str)]
        + [(m, "serialization") for m in sorted(responses, key=str)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = top.get("$defs", {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, dict[str, Any]] = {}
    for path, method, spec in specs:
        operation: dict[str, Any] = {
            "summary": spec.summary,
            "tags": list(spec.tags),
            "operationId": f"{method}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_') or 'root'}",
            "responses": {str(spec.status): {"description": status_text(spec.status, "OK")}},
        }
        if spec.response is not None:
            operation["responses"][str(spec.status)]["content"] = {"application/json": {"schema": ref(spec.response)}}
        if spec.description:
            operation["description"] = spec.description
        parameters: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": text,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            }
            for name, text in spec.path_params.items()
        ]
        if spec.query is not None:
            query_schema = spec.query.model_json_schema(ref_template="#/components/schemas/{model}")
            required = set(query_schema.get("required", []))
            for name, schema in query_schema.get("properties", {}).items():
                schema = _without_null(dict(schema))
                description = schema.pop("description", "")
                schema.pop("title", None)
                parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
                if description:
                    parameter["description"] = description
                parameters.append(parameter)
        if parameters:
            operation["parameters"] = parameters
        if spec.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(spec.body)}}}
        error_codes = set(spec.errors) | {503}
        if spec.body is not None or spec.query is not None or spec.path_params:
            error_codes.add(400)
        if spec.body is not None:
            error_codes |= {413, 415}
        if spec.auth:
            error_codes.add(401)
            operation["security"] = [{"bearerAuth": []}]
        elif spec.auth_optional:
            error_codes.add(401)
            operation["security"] = [{}, {"bearerAuth": []}]  # anonymous, or with a token that must be valid
        for code in sorted(error_codes):
            operation["responses"][str(code)] = {
                "description": status_text(code, "Error"),
                "content": {"application/json": {"schema": ref(error_model)}},
            }
        paths.setdefault(path, {})[method] = operation

    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
