"""Token authentication that takes `Authorization: Bearer <key>` as well as `Token <key>`."""

from __future__ import annotations

from rest_framework import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication under either scheme: `Token` (DRF's own) or `Bearer`
    (what OAuth-minded clients and most HTTP libraries send). The same tokens; a request
    with another scheme is not authenticated by this class (401 names `Token`)."""

    SCHEMES = ("Token", "Bearer")

    def authenticate(self, request):
        scheme = authentication.get_authorization_header(request).split(b" ", 1)[0]
        for keyword in self.SCHEMES:
            if scheme.lower() == keyword.lower().encode():
                self.keyword = keyword  # a new instance per request (APIView)
                break
        return super().authenticate(request)

    def authenticate_header(self, request) -> str:
        return "Token"
