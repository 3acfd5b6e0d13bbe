"""`POST /v1/chat/completions`: questions about the workspace, answered from its code with `path:line` citations."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from assistant.api.deps import AssistantDep, StateDep, TokenizerDep, served_model, token_budget
from assistant.api.schemas import ChatCompletionCreate, ChatCompletionResponse
from assistant.api.streaming import STREAM_DOC, chat_events, event_stream
from assistant.api.tokens import Tokenizer
from assistant.service import Assistant

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post("/chat/completions", response_model=ChatCompletionResponse, responses=STREAM_DOC)
async def create_chat_completion(body: ChatCompletionCreate, assistant: AssistantDep, tokenizer: TokenizerDep,
                                 state: StateDep) -> Response | ChatCompletionResponse:
    """OpenAI `POST /v1/chat/completions`. The answer is retrieved from the workspace (definitions and
    lines related to the last user message, each cited as `path:line`; code at the end of the question
    is completed), never free text; `citations` lists what it used."""
    model = served_model(body.model, state.config)
    param = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
    max_tokens = token_budget(body.token_budget, state.config, param)
    response = await run_in_threadpool(_answer, body, assistant, tokenizer, model, max_tokens, state.fingerprint)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return event_stream(chat_events(response, include_usage))
    return response


def _answer(body: ChatCompletionCreate, assistant: Assistant, tokenizer: Tokenizer, model: str, max_tokens: int,
            fingerprint: str) -> ChatCompletionResponse:
    answer = assistant.chat(body.to_domain(), max_tokens=max_tokens)
    return ChatCompletionResponse.from_domain(answer, body, tokenizer, model=model, max_tokens=max_tokens,
                                              fingerprint=fingerprint)
