"""The project's URLs plus `/callbacks/bench-bare/`: a view that reads nothing and answers a constant, the
ceiling of one Django request through the same middleware on the same server.

It lives under `/callbacks/` (listed before the callback pattern) so that the middleware treats it as it
treats a callback: a public URL. Elsewhere the login middleware answers a 302 to the login page, which
is what this baseline measured before (wrk counts a 302 as a success)."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from .callbacks import BARE_PATH

BODY = b'{"status":"success","processed":1,"unprocessed":[]}'


@csrf_exempt
def bare(request):
    return HttpResponse(BODY, content_type="application/json")


# Named as the callback route so the roles table (rcsconnect.roles) treats it as public, like a callback.
urlpatterns = [path(BARE_PATH.lstrip("/"), bare, name="callback"), path("", include("rcsconnect.urls"))]
