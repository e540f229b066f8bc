from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


def home(request: HttpRequest) -> HttpResponse:
    return redirect("campaigns:list")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def callback_not_ready(request: HttpRequest, token: str) -> JsonResponse:
    # Replaced by the DRF callback endpoint (providers.callbacks).
    return JsonResponse({"status": "error", "error": "callbacks are not accepted yet"}, status=503)
