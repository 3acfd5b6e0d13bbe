"""Dependencies the routes declare by alias (`AssistantDep`, `ConfigDep`, ...), the client check
(bearer key, cross-site refusal) and the request policies every route shares (served model, token budget)."""

from __future__ import annotations

import ipaddress
import os
import posixpath
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from assistant.api.errors import AUTHENTICATION, APIError, model_not_found
from assistant.api.tokens import Tokenizer
from assistant.config import ServerConfig
from assistant.runtime import Runtime
from assistant.service import Assistant


@dataclass(frozen=True)
class ServerState:
    """What the lifespan hands to every request (as `request.state.shutka`)."""

    runtime: Runtime
    config: ServerConfig
    fingerprint: str
    """The loaded model's digest; sent as `system_fingerprint`."""
    started: float = field(default_factory=time.monotonic)
    """Monotonic start time (for uptime)."""
    created: int = field(default_factory=lambda: int(time.time()))
    """Unix time the server started: the `created` of the served model."""


def get_state(request: Request) -> ServerState:
    return request.state.shutka


def get_config(request: Request) -> ServerConfig:
    """Available before the lifespan has run (the client check needs it for every request)."""
    return request.app.state.config


StateDep = Annotated[ServerState, Depends(get_state)]
ConfigDep = Annotated[ServerConfig, Depends(get_config)]


def get_runtime(state: StateDep) -> Runtime:
    return state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_assistant(runtime: RuntimeDep) -> Assistant:
    return runtime.assistant


def get_tokenizer(runtime: RuntimeDep) -> Tokenizer:
    """The checkpoint's tokenizer: `usage` and `max_tokens` count the model's own tokens."""
    return runtime.checkpoint.tokenizer


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
TokenizerDep = Annotated[Tokenizer, Depends(get_tokenizer)]

# -- the client check --------------------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="The server's API key (`--api-key` / SHUTKA_API_KEY), "
                                                  "when one is set.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
WEB_SCHEMES = ("http", "https")


def require_client(request: Request, config: ConfigDep, credentials: BearerDep) -> None:
    """With an API key configured, the request must carry it as `Authorization: Bearer KEY` (else 401).
    Without one (loopback only), a request a web page sent from another site — an `Origin` header
    naming a non-loopback http(s) host — is refused with 403, so a page in the user's browser cannot
    read the workspace's code or wipe its memory through this server."""
    if config.api_key:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise APIError(401, "You didn't provide an API key. Send it in an Authorization header using "
                                "Bearer auth (Authorization: Bearer YOUR_KEY).", type=AUTHENTICATION,
                           code="missing_api_key", headers=challenge)
        if not secrets.compare_digest(credentials.credentials.encode(), config.api_key.encode()):
            raise APIError(401, "Incorrect API key provided.", type=AUTHENTICATION, code="invalid_api_key",
                           headers=challenge)
        return
    origin = request.headers.get("origin")
    if origin and not is_local_origin(origin):
        raise APIError(403, f"Requests from web pages on {origin} are refused: this server has no API key. "
                            "Start it with --api-key to let other clients in.", code="cross_origin")


def is_local_origin(origin: str) -> bool:
    """A browser `Origin` that is safe to serve: loopback, or not a web page at all (editor webviews)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in WEB_SCHEMES:
        return origin != "null"  # "null": a sandboxed or file:// page
    host = parts.hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


ClientDep = Depends(require_client)

# -- request policies --------------------------------------------------------------------------------------


def served_model(requested: str | None, config: ServerConfig) -> str:
    """The model id to answer with; a name other than the served one is a 404, as OpenAI does."""
    if requested is not None and requested != config.model_id:
        raise model_not_found(requested)
    return config.model_id


def token_budget(requested: int | None, config: ServerConfig, param: str = "max_tokens") -> int:
    """`max_tokens` checked against the server's limit (400 above it); omitted means the limit."""
    if requested is None:
        return config.max_tokens_limit
    if requested > config.max_tokens_limit:
        raise APIError(400, f"{param} is {requested}, but this server allows at most {config.max_tokens_limit} "
                            "tokens per completion ([server] max_tokens_limit).", param=param,
                       code="max_tokens_exceeded")
    return requested


def document_path(raw: str | None, root: Path) -> str | None:
    """The document's workspace-relative POSIX path (absolute paths inside the workspace are accepted);
    a path outside the workspace is a 400."""
    if not raw:
        return None
    outside = APIError(400, f"path {raw!r} is not inside the workspace {root}", param="path", code="invalid_path")
    if "\x00" in raw:
        raise outside
    path = Path(raw)
    if path.is_absolute():
        for candidate, base in ((path, root), (Path(os.path.realpath(path)), Path(os.path.realpath(root)))):
            if candidate.is_relative_to(base):
                return candidate.relative_to(base).as_posix()
        raise outside
    relative = posixpath.normpath(path.as_posix())
    if relative == ".." or relative.startswith("../"):
        raise outside
    return relative
