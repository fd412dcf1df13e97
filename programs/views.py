from __future__ import annotations

import logging
from http import HTTPStatus

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 when the database answers a trivial query, else 503."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: the database did not answer", exc_info=True)
        return JsonResponse(
            {"status": "unavailable", "database": "down"},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    return JsonResponse({"status": "ok", "database": "ok"})


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "programs/home.html")
