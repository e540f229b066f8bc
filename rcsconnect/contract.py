"""The published Generic RCS contract: JSON Schemas kept in docs/contract/, served at /contract/.

Public (vendors read them without an account); the files in the repository are the source.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse

CONTRACT_DIR = Path(settings.BASE_DIR) / "docs" / "contract"
SCHEMAS = {
    "generic-rcs-outbound": "What rcsconnect sends to your messaging endpoint (one message per request).",
    "callback-status": "What you post to the provider's callback URL: delivery reports, clicks, replies.",
}


@cache
def load(name: str) -> dict:
    """A contract schema by name (cached; the files change only with a release)."""
    if name not in SCHEMAS:
        raise KeyError(name)
    return json.loads((CONTRACT_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "contract": "Generic RCS",
            "payloadVersion": "0.1",
            "schemas": [
                {
                    "name": name,
                    "description": text,
                    "url": request.build_absolute_uri(reverse("contract_schema", args=[name])),
                }
                for name, text in SCHEMAS.items()
            ],
        }
    )


def schema(request: HttpRequest, name: str) -> JsonResponse:
    try:
        document = load(name)
    except KeyError:
        raise Http404("No such schema.") from None
    response = JsonResponse(document, json_dumps_params={"indent": 2})
    response["Content-Type"] = "application/schema+json"
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response
