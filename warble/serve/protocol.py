"""The HTTP API's request and response bodies (pydantic), shaped as OpenAI's so its clients work unmodified.

Requests forbid unknown fields: a misspelt parameter ("max_token") is a 400 naming it, not a silently ignored
default. Besides OpenAI's own fields, completions accept vLLM's sampling extras (top_k, min_p, repetition_penalty)
and Warble's `conditions` (metadata control tokens), which the `openai` client sends through `extra_body`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from warble.errors import WarbleError
from warble.serve.types import MAX_TOP_LOGPROBS

TokenIds = Annotated[list[StrictInt], Field(min_length=1)]
# Strict types throughout: JSON true is not the token id 1 nor temperature 1.0, "0.5" is not a number, "yes" is
# not a boolean. (A StrictFloat still takes a JSON integer.)
PromptInput = StrictStr | Annotated[list[StrictStr], Field(min_length=1)] | TokenIds | Annotated[
    list[TokenIds], Field(min_length=1)]


class APIError(WarbleError):
    """A request the server refuses, with the HTTP status and OpenAI's error fields (type, param, code)."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape, the one every non-2xx response of the server has."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------------- completions
class Conditions(_Request):
    """Post metadata the model was trained with, as control tokens before the prompt (docs/CONTRACTS.md)."""

    lang: StrictStr | None = Field(None, description="language code, e.g. en (unknown codes become 'und')")
    reply: StrictBool | None = Field(None, description="true: a reply; false: an original post")
    engagement: StrictInt | None = Field(None, ge=0, description="likes + reposts the post should look like it got")
    topic: StrictStr | None = Field(None, description="a topic of the tokenizer (others become 'other')")


class StreamOptions(_Request):
    include_usage: StrictBool = False


class CompletionRequest(_Request):
    model: StrictStr | None = Field(None, description="the served model's id (GET /v1/models); default: it")
    prompt: PromptInput = Field(description="a string, a list of strings, a list of token ids, or a list of those")
    max_tokens: StrictInt | None = Field(16, ge=0, description="new tokens per choice (0 with echo: score the prompt)")
    temperature: StrictFloat = Field(1.0, ge=0, le=2, description="0 = greedy")
    top_p: StrictFloat = Field(1.0, gt=0, le=1)
    n: StrictInt = Field(1, ge=1, description="choices per prompt; with a seed, choice i uses seed + i")
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    logprobs: StrictInt | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS,
                                       description="chosen token's logprob plus this many most likely alternatives")
    echo: StrictBool = False
    stop: StrictStr | Annotated[list[StrictStr], Field(max_length=16)] | None = None
    seed: StrictInt | None = Field(None, ge=-(2**63), le=2**63 - 1)
    presence_penalty: StrictFloat = Field(0.0, description="not supported: only 0")
    frequency_penalty: StrictFloat = Field(0.0, description="not supported: only 0")
    best_of: StrictInt | None = Field(None, description="not supported beyond n")
    logit_bias: dict[str, StrictFloat] | None = Field(None, description="not supported")
    suffix: StrictStr | None = Field(None, description="not supported")
    user: StrictStr | None = None
    # vLLM's extras
    top_k: StrictInt = Field(0, ge=-1, description="keep the k most likely tokens; 0 or -1 = off")
    min_p: StrictFloat = Field(0.0, ge=0, lt=1)
    repetition_penalty: StrictFloat = Field(1.0, gt=0)
    # Warble's
    conditions: Conditions | None = None


class LogprobsBody(BaseModel):
    """OpenAI's legacy completions logprobs: parallel lists, one entry per token."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: LogprobsBody | None = None
    finish_reason: Literal["stop", "length"] | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


# ---------------------------------------------------------------------------------------------------- embeddings
class EmbeddingRequest(_Request):
    model: StrictStr | None = None
    input: PromptInput = Field(description="a string, a list of strings, or token ids (Warble's tokenizer)")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="base64: little-endian float32 bytes, what the openai client asks for by default")
    dimensions: StrictInt | None = Field(None, ge=1, description="must be the model's embedding size if given")
    user: StrictStr | None = None


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


# ---------------------------------------------------------------------------------------------------- models, health
class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "warble"
    max_model_len: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok", "draining"]
    model: str


# ---------------------------------------------------------------------------------------------------- search
class SearchRequest(_Request):
    query: StrictStr = Field(min_length=1, description="the platform's advanced-search syntax (docs/SEARCH.md)")
    mode: Literal["lexical", "dense", "hybrid"] = "hybrid"
    limit: StrictInt = Field(10, ge=1, le=100)
    log: StrictBool = Field(True, description="false: the query is not recorded in the index's query log (the "
                                              "past queries that /v1/search/complete offers)")


class SearchResponse(BaseModel):
    object: Literal["search.result"] = "search.result"
    query: str
    parsed: str  # the canonical form of the query (warble.search.query.unparse)
    mode: str
    hits: list[dict[str, Any]]  # each live post's fields, score, ranks and highlights (warble.search.index.Hit)
    took_ms: float

