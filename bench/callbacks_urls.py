"""The project's URLs plus `/bench/bare/`: a view that reads nothing and answers a constant, the
ceiling of one Django request through the same middleware on the same server."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

BODY = b'{"status":"success","processed":1,"unprocessed":[]}'


@csrf_exempt
def bare(request):
    return HttpResponse(BODY, content_type="application/json")


urlpatterns = [path("bench/bare/", bare), path("", include("rcsconnect.urls"))]
