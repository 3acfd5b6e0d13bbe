"""`POST /v1/completions`: code completion at the cursor between `prompt` and `suffix`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from assistant.api.deps import (
    AssistantDep,
    RuntimeDep,
    StateDep,
    TokenizerDep,
    document_path,
    served_model,
    token_budget,
)
from assistant.api.schemas import CompletionCreate, CompletionResponse
from assistant.api.streaming import STREAM_DOC, completion_events, event_stream
from assistant.api.tokens import Tokenizer
from assistant.service import Assistant

router = APIRouter(prefix="/v1", tags=["completions"])


@router.post("/completions", response_model=CompletionResponse, responses=STREAM_DOC)
async def create_completion(body: CompletionCreate, assistant: AssistantDep, tokenizer: TokenizerDep,
                            state: StateDep, runtime: RuntimeDep) -> Response | CompletionResponse:
    """OpenAI `POST /v1/completions`; a non-empty `suffix` makes it fill-in-the-middle. The engine runs
    in the threadpool; with `stream`, the finished choices are sent as server-sent events."""
    model = served_model(body.model, state.config)
    max_tokens = token_budget(body.max_tokens, state.config)
    body = body.model_copy(update={"path": document_path(body.path, runtime.workspace.root)})
    response = await run_in_threadpool(_complete, body, assistant, tokenizer, model, max_tokens, state.fingerprint)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return event_stream(completion_events(response, include_usage))
    return response


def _complete(body: CompletionCreate, assistant: Assistant, tokenizer: Tokenizer, model: str, max_tokens: int,
              fingerprint: str) -> CompletionResponse:
    result = assistant.complete(body.to_domain())
    return CompletionResponse.from_domain(result, body, tokenizer, model=model, max_tokens=max_tokens,
                                          fingerprint=fingerprint)
