"""OpenAI-compatible chat: GET /v1/models and POST /v1/chat/completions, over the same ask view as /api/ask.

The last user message is the question and the earlier turns are its history. The reply's content is the
answer with its [n] markers and a Markdown source list; ``annotations`` locate each quoted sentence and
link its source, as OpenAI's ``url_citation`` does. Chat front-ends also send their side tasks (a chat
title, tags, follow-up suggestions) to whatever model they chat with; those get a minimal valid reply.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from qa import cited_text, views
from qa.answer import Pipeline

MODEL_ID = "exosome-qa"
# Earlier turns passed on as history: as many as the chat page sends (web/static/chat.js HISTORY_TURNS).
HISTORY_TURNS = 20
# Open WebUI starts its side-task prompts (title, tags, follow-ups, queries, autocomplete) with this line.
SIDE_TASK_PREFIX = "### Task:"
# The reply a side task wants, as its prompt spells it: 'JSON format: { "title": ... }' or '{ "tags": [...] }'.
_JSON_REPLY_KEY = re.compile(r'\{\s*"(\w+)"\s*:\s*(\[)?')
# The chat history inside a side-task prompt: 'USER: ...' and 'ASSISTANT: ...' lines.
_FIRST_USER_LINE = re.compile(r"^USER:\s*(.+)$", re.M)
# Open WebUI asks for a 3-5 word title; six words keep most questions' subject.
_TITLE_WORDS = 6


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request; sampling, tools and other fields that do not apply are accepted and ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"model": MODEL_ID, "messages": [{"role": "user", "content": "What are the stages of exosome formation?"}]},
        {"model": MODEL_ID, "stream": True, "messages": [
            {"role": "user", "content": "Which cells secrete MET-carrying exosomes?"},
            {"role": "assistant", "content": "Melanoma-derived exosomes ..."},
            {"role": "user", "content": "and what do they do?"}]},
    ]})

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: StrictBool = False  # JSON true or false: 0 and 1 are not booleans to the published schema


def chat_router(current: Callable[[], Pipeline]) -> APIRouter:
    """The /v1 routes over the pipeline ``current()`` returns at each request."""
    # The request model of POST /api/ask, whose rules the question and history must meet here too.
    from qa.service import AskRequest

    router = APIRouter(prefix="/v1", tags=["openai"])
    created = int(time.time())

    @router.get("/models", operation_id="list_models")
    def models() -> dict:
        """The one model this service offers, in OpenAI's model-list shape."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": created,
                                            "owned_by": "exosome-qa"}]}

    @router.post("/chat/completions", operation_id="chat_completions", responses={200: {"content": {
        "application/json": {}, "text/event-stream": {}},
        "description": "A chat completion, or with stream=true its chunks as server-sent events"}})
    def chat_completions(body: ChatCompletionRequest, request: Request):
        """Answer the last user message with quoted, cited sentences, as an OpenAI chat completion."""
        question, history = _conversation(body.messages)
        if question.lstrip().startswith(SIDE_TASK_PREFIX):
            content, annotations = side_task_reply(question), []
        else:
            try:
                ask = AskRequest(question=question, history=history)
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from exc
            data = views.ask_view(current(), ask.question, [t.model_dump() for t in ask.history])
            reply = cited_text.answer_text(data, str(request.base_url).rstrip("/"))
            content, annotations = reply.text, [_annotation(q) for q in reply.quotes]
        completion = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": MODEL_ID}
        if body.stream:
            return StreamingResponse(_chunks(completion, content, annotations), media_type="text/event-stream")
        message = {"role": "assistant", "content": content, "annotations": annotations, "refusal": None}
        return {**completion, "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}]}

    return router


def side_task_reply(prompt: str) -> str:
    """A minimal valid reply to a front-end's side task: the JSON object its prompt asks for, or nothing.

    A title is the chat's first question, shortened; lists (tags, follow-ups, queries) are empty.
    """
    wanted = _JSON_REPLY_KEY.search(prompt)
    if wanted is None:
        return ""
    key, is_list = wanted.group(1), wanted.group(2) is not None
    if key == "title":
        first = _FIRST_USER_LINE.search(prompt)
        words = (first.group(1) if first else "Exosomes in cancer").rstrip("?. ").split()
        return json.dumps({"title": " ".join(words[:_TITLE_WORDS])})
    return json.dumps({key: [] if is_list else ""})


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[dict]]:
    """The last user message, and the (question, answer) turns before it, oldest first."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise RequestValidationError([{"loc": ("body", "messages"), "type": "value_error",
                                       "msg": "the conversation has no user message to answer"}])
    history: list[dict] = []
    for message in messages[:users[-1]]:
        if message.role == "user":
            history.append({"question": message.text(), "answer": ""})
        elif message.role == "assistant" and history:
            history[-1]["answer"] = cited_text.answer_body(message.text())
    return messages[users[-1]].text(), history[-HISTORY_TURNS:]


def _annotation(quote: cited_text.QuoteSpan) -> dict:
    return {"type": "url_citation", "url_citation": {"url": quote.url, "title": quote.title,
                                                     "start_index": quote.start, "end_index": quote.end}}


def _chunks(completion: dict, content: str, annotations: list[dict]) -> Iterator[str]:
    """Server-sent events: the role, the content line by line, the annotations, a stop chunk, then [DONE]."""
    deltas = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in re.findall(r"[^\n]*\n*", content) if piece]
    if annotations:
        deltas.append({"annotations": annotations})
    for delta in deltas:
        yield _event(completion, delta, None)
    yield _event(completion, {}, "stop")
    yield "data: [DONE]\n\n"


def _event(completion: dict, delta: dict, finish_reason: str | None) -> str:
    chunk = {**completion, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
