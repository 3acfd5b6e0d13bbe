"""Every error the HTTP API returns, in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

Domain errors (`ShutkaError` and its subclasses) are translated here and nowhere else; routes raise
`APIError` for what only HTTP knows (an unknown model, a missing key, a value over a server limit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import (
    BankLocked,
    CheckpointError,
    InvalidRequest,
    ModelNotLoaded,
    TitansPathRefused,
)
from indexer.errors import LockBusy, ShutkaError, WorkspaceNotFound

log = logging.getLogger(__name__)

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
SERVER_ERROR = "server_error"

DOMAIN_ERRORS: tuple[tuple[type[ShutkaError], int, str, str], ...] = (
    # (error class, status, type, code) — first match wins, so subclasses come before their bases.
    (TitansPathRefused, 400, INVALID_REQUEST, "invalid_path"),
    (InvalidRequest, 400, INVALID_REQUEST, "invalid_request"),
    (CheckpointError, 400, INVALID_REQUEST, "invalid_file"),       # e.g. titans/load of a foreign file
    (WorkspaceNotFound, 400, INVALID_REQUEST, "invalid_path"),
    (BankLocked, 503, SERVER_ERROR, "busy"),                       # another process writes: retry later
    (LockBusy, 503, SERVER_ERROR, "busy"),
    (ModelNotLoaded, 503, SERVER_ERROR, "model_not_loaded"),
    (ShutkaError, 500, SERVER_ERROR, "internal_error"),
)
"""How each domain error reaches the client."""

HTTP_CODES: Mapping[int, str] = {404: "unknown_url", 405: "method_not_allowed", 413: "request_too_large"}


class APIError(Exception):
    """An error only the HTTP layer knows about; rendered as OpenAI's error body with `status`."""

    def __init__(self, status: int, message: str, *, type: str = INVALID_REQUEST, param: str | None = None,
                 code: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = dict(headers or {})


def error_body(message: str, type: str = INVALID_REQUEST, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(status: int, message: str, type: str = INVALID_REQUEST, param: str | None = None,
                   code: str | None = None, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type, param, code), status_code=status, headers=headers)


def translate(exc: Exception) -> tuple[int, dict[str, Any]]:
    """(status, body) for any exception a route can raise; unexpected ones become a generic 500."""
    if isinstance(exc, APIError):
        return exc.status, error_body(exc.message, exc.type, exc.param, exc.code)
    if isinstance(exc, ShutkaError):
        for cls, status, kind, code in DOMAIN_ERRORS:
            if isinstance(exc, cls):
                return status, error_body(str(exc), kind, getattr(exc, "param", None), code)
    return 500, error_body("internal server error (see the server log)", SERVER_ERROR, None, "internal_error")


def model_not_found(model: str) -> APIError:
    return APIError(404, f"The model `{model}` does not exist; this server serves the model listed by "
                         "GET /v1/models.", param="model", code="model_not_found")


REQUEST_PARTS = ("body", "query", "path", "header", "cookie")
"""Where FastAPI found a parameter: the first item of a validation error's `loc`."""


def error_param(loc: Sequence[Any]) -> str:
    """The parameter a validation error is about, from pydantic's `loc`: `("body", "messages", 0, "content")`
    -> `messages.0.content`, `("query", "n")` -> `n`; the request body as a whole (`("body",)`) -> `body`."""
    parts = [str(part) for part in loc]
    where = parts.pop(0) if parts and parts[0] in REQUEST_PARTS else "body"
    return ".".join(parts) or where


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str, str]:
    """(message, param, code) for pydantic's first complaint, naming the field as OpenAI does."""
    err = errors[0]
    loc = tuple(err.get("loc", ()))
    kind = str(err.get("type", ""))
    if kind == "json_invalid":
        return f"The request body is not valid JSON ({err.get('ctx', {}).get('error', 'decode error')}).", "body", \
            "invalid_json"
    param = error_param(loc)
    if kind == "missing" and param == "body":
        return "The request body is missing: send a JSON object (Content-Type: application/json).", param, \
            "missing_required_parameter"
    if kind == "missing":
        return f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    where = f"'{param}'" if param != "body" else "the request body"
    code = "invalid_type" if kind.endswith("_type") or kind.endswith("_parsing") else "invalid_value"
    extra = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"Invalid value for {where}: {err.get('msg', 'invalid')}{extra}.", param, code


# -- handlers ----------------------------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    status, body = translate(exc)
    return JSONResponse(body, status_code=status, headers=getattr(exc, "headers", None))


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status, body = translate(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return JSONResponse(body, status_code=status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, param, code = validation_message(exc.errors())
    return error_response(400, message, param=param, code=code)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}. Please check the URL for typos."
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    kind = SERVER_ERROR if status >= 500 else INVALID_REQUEST
    return error_response(status, message, kind, None, HTTP_CODES.get(status), exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    status, body = translate(exc)
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through `translate`, so clients only ever see OpenAI's error shape."""
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(ShutkaError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
