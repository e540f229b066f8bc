"""The public short-link redirect, `/c/<code>` (no login: recipients are not users)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .clicks import click_record


@never_cache
@require_safe
def follow_short_link(request: HttpRequest, code: str) -> HttpResponseRedirect:
    url = click_record(code=code, user_agent=request.headers.get("User-Agent", ""), method=request.method)
    if url is None:
        raise Http404("Unknown link.")
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
