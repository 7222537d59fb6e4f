"""An optional bearer key for the paths other programs call: /api, /v1 and /mcp (the HTML pages stay open)."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PROTECTED_PREFIXES = ("/api", "/v1", "/mcp")


class APIKeyMiddleware:
    """Answers 401 with the usual error body unless a protected request carries ``Authorization: Bearer <key>``."""

    def __init__(self, app: ASGIApp, key: str):
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _protected(scope["path"]) and not self._authorised(Headers(scope=scope)):
            message = "This endpoint needs the service's API key: send the header 'Authorization: Bearer <key>'."
            body = {"error": {"status": 401, "message": message, "details": []}}
            await JSONResponse(body, 401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, headers: Headers) -> bool:
        # Constant-time comparison, so the key cannot be guessed from response times.
        return hmac.compare_digest(headers.get("authorization", "").encode(), self.expected)


def _protected(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PROTECTED_PREFIXES)
