"""Wire models of the HTTP API — OpenAI's shapes for completions, chat, embeddings and models, and
Shutka's own for Titans, bank and health — with the pure converters to and from the assistant's
types (`to_domain` / `from_domain`). One module per resource, like the routes.

Requests ignore fields they do not know (OpenAI clients send many optional ones); fields that would
change the answer in a way this engine cannot honour are refused with 400 instead of ignored.
"""

from assistant.api.schemas.chat import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionCreate,
    ChatCompletionResponse,
    ChatDelta,
    ChatMessageIn,
    ChatMessageOut,
    TextPart,
)
from assistant.api.schemas.common import ErrorDetail, ErrorResponse, StreamOptions, Usage
from assistant.api.schemas.completions import (
    ChoiceSource,
    CompletionChoice,
    CompletionCreate,
    CompletionFeedback,
    CompletionFeedbackOut,
    CompletionResponse,
)
from assistant.api.schemas.embeddings import (
    Embedding,
    EmbeddingCreate,
    EmbeddingResponse,
    EmbeddingUsage,
    encode_vector,
)
from assistant.api.schemas.health import Health
from assistant.api.schemas.memory import (
    BankStatsOut,
    EpisodeOut,
    SurpriseBin,
    TitansFile,
    TitansForgotten,
    TitansLoad,
    TitansSave,
    TitansStatsOut,
)
from assistant.api.schemas.models import ModelCard, ModelList

__all__ = [
    "BankStatsOut", "ChatChoice", "ChatChunkChoice", "ChatCompletionChunk", "ChatCompletionCreate",
    "ChatCompletionResponse", "ChatDelta", "ChatMessageIn", "ChatMessageOut", "ChoiceSource", "CompletionChoice",
    "CompletionCreate", "CompletionFeedback", "CompletionFeedbackOut", "CompletionResponse", "Embedding",
    "EmbeddingCreate", "EmbeddingResponse", "EmbeddingUsage",
    "EpisodeOut", "ErrorDetail", "ErrorResponse", "Health", "ModelCard", "ModelList", "StreamOptions", "SurpriseBin",
    "TextPart", "TitansFile", "TitansForgotten", "TitansLoad", "TitansSave", "TitansStatsOut", "Usage",
    "encode_vector",
]
