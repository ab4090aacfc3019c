"""Request checks before any view: body size (413), text the database cannot take (400)."""

from django.conf import settings
from django.http import JsonResponse

from jobs.safejson import form_problem, text_problem


class BodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length."}, status=400)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes, the limit is {limit}."},
                status=413,
            )
        return self.get_response(request)


class QueryTextMiddleware:
    """Refuse a URL whose path or query string holds text the database cannot take (NUL,
    lone surrogates): 400 naming the parameter, before a filter or lookup sends it to
    PostgreSQL and fails with a 500. Covers the API and the admin alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if text_problem(request.path):
            return JsonResponse({"detail": "The URL path contains a NUL character."}, status=400)
        found = form_problem(request.GET)
        if found is None:
            return self.get_response(request)
        key, problem = found
        if key is None:
            return JsonResponse({"detail": f"A query parameter name: {problem}"}, status=400)
        return JsonResponse({key: [problem]}, status=400)
