"""The OpenAPI schema's shared rules (DEFAULT_SCHEMA_CLASS): what every operation can answer.

drf-spectacular documents success bodies from the serializers; this adds, for every operation, the
error answers the server really gives, with their bodies, so a generated client types them instead of
returning `None`:

- 400 `ValidationErrors` (`{"<field>": ["message", ...]}`) for a request body, query or header parameter;
- 401 and 403 `Detail` for every authenticated operation;
- 404 `Detail` on every route with a path parameter (`{id}`);
- 409 `Conflict` (`detail` with the reason) on deletes, writes and the actions that can refuse;
- request bodies as JSON only (the API's parser), and the `Idempotent-Replayed` response header where
  an `Idempotency-Key` is accepted.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions

from .pagination import MAX_ID

VALIDATION_ERRORS = {
    "type": "object",
    "description": 'Bad input: `{"<field>": ["message", ...]}`, each problem named by its field (or '
    "`non_field_errors`); nested inputs (template `content`, contact `rows`) nest their messages the "
    "same way.",
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {}},
            {"type": "object", "additionalProperties": {}},
            {"type": "string"},
        ]
    },
}
DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
CONFLICT = {
    "type": "object",
    "description": "Refused in the current state; the reason is in `detail` (or `status` for a lifecycle "
    "action that the campaign's or message's status does not allow).",
    "properties": {
        "detail": {"type": "string"},
        "status": {"type": "array", "items": {"type": "string"}},
        "used_by": {"type": "array", "items": {"type": "string"}, "description": "What still uses it."},
    },
}
COMPONENTS = {"ValidationErrors": VALIDATION_ERRORS, "Detail": DETAIL, "Conflict": CONFLICT}
DESCRIPTIONS = {
    "400": ("ValidationErrors", "Bad input, named by field or parameter."),
    "401": ("Detail", "No credentials, or a wrong token (`Authorization: Token <key>`)."),
    "403": ("Detail", "Your role may not do this."),
    "404": ("Detail", "No such record."),
    "409": ("Conflict", "Conflicts with the current state."),
    "429": ("Detail", "Locked out after too many failed logins; try again later."),
}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "rcsconnect.authentication.BearerTokenAuthentication"
    name = "bearerAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The API token from /api/token/, as `Bearer <key>` (or `Token <key>`).",
        }


class AutoSchema(openapi.AutoSchema):
    def map_parsers(self):
        return ["application/json"]  # StrictJSONParser; the token view's form parser is not for clients

    def _get_paginator(self):
        return super()._get_paginator() if self.method == "GET" else None  # a POST answers no page

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if parameter.get("in") == "path" and schema.get("pattern") == "^\\d+$":
                parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        return parameters

    def _component(self, name: str) -> dict:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=COMPONENTS[name]
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error(self, code: str) -> dict:
        name, description = DESCRIPTIONS[code]
        return {
            "description": description,
            "content": {"application/json": {"schema": self._component(name)}},
        }

    def _error_codes(self) -> list[str]:
        public = any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())
        codes = []
        parameters = [p for p in self._get_parameters() if p.get("in") in ("query", "header")]
        if parameters or self.method in WRITES:
            codes.append("400")
        codes.append("401")
        if not public:
            codes.append("403")
        if "{" in self.path:
            codes.append("404")
        if self.method in WRITES and not public:
            codes.append("409")
        codes.extend(getattr(self.view, "schema_error_codes", []))
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = set(self._error_codes()) | {code for code in responses if code in DESCRIPTIONS}
        for code in sorted(codes):
            responses[code] = self._error(code)
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if getattr(self.view, "idempotent", False) and str(status_code) == "200":
            headers["Idempotent-Replayed"] = {
                "schema": {"type": "string", "enum": ["true"]},
                "description": "`true`: a repeated Idempotency-Key; this is the first request's answer.",
            }
        return headers
