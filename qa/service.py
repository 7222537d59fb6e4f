"""Service: the FastAPI app. JSON under /api, HTML pages at /, /documents and /refs, from the same views."""

from __future__ import annotations

import logging
import re
from importlib.resources import files
from urllib.parse import urlencode
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import views
from qa.api_key import APIKeyMiddleware
from qa.guard import Admission, Guard
from qa.index import Index, ensure_index
from qa.live import LiveIndex
from qa.settings import MAX_HISTORY_ANSWER_CHARS, MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, Settings
from qa.text import REF_BRACKET
from qa.validate import TEXT_PATTERN, WORDS_PATTERN, check_text, check_words

log = logging.getLogger("qa.service")

EXAMPLE_ANSWER = {
    "question": "What are the stages of exosome formation?",
    "answer": "Exosome formation is a fine-tuned process which includes four stages: initiation, endocytosis, "
              "multivesicular bodies (MVBs) formation, and exosome secretion [1]. [1]",
    "abstained": False,
    "confidence": 0.97,
    "confidence_level": "high",
    "sentences": [{"text": "Exosome formation is a fine-tuned process which includes four stages: initiation, "
                           "endocytosis, multivesicular bodies (MVBs) formation, and exosome secretion [1].",
                   "citation": 1, "refs": [1], "passage_id": "zhang2015-p002-0", "unit_id": "zhang2015-p002-0-s0"}],
    "citations": [{"n": 1, "passage_id": "zhang2015-p002-0", "doc": "zhang2015",
                   "doc_title": "Exosomes in cancer: small particle, big player",
                   "section": "Biogenesis, release, and uptake of exosomes", "kind": "paragraph", "refs": [1, 2],
                   "text": "Exosome formation is a fine-tuned process ...", "label": ""}],
    "passages": [{"id": "zhang2015-p002-0", "doc": "zhang2015", "section": "Biogenesis, release, and uptake of "
                  "exosomes", "kind": "paragraph", "text": "Exosome formation is ...", "score": 1.21, "refs": [1, 2]}],
    "timing_ms": {"understand": 1.2, "retrieve": 12.5, "select": 3.1, "total": 17.4},
    "reason": "",
}


# Validated by check_text / check_words (their messages say what is wrong); the schema publishes the same rules.
Text = Annotated[str, AfterValidator(check_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]
_WORDS_SCHEMA = {"pattern": WORDS_PATTERN, "maxLength": MAX_QUESTION_CHARS}


def _checked_words(what: str) -> AfterValidator:
    return AfterValidator(lambda value: check_words(value, MAX_QUESTION_CHARS, what))


Words = Annotated[str, _checked_words("question"),
                  Field(description=f"1 to {MAX_QUESTION_CHARS} characters of text.", json_schema_extra=_WORDS_SCHEMA)]
QuestionParam = Annotated[str, Query(json_schema_extra=_WORDS_SCHEMA), _checked_words("question")]
ClaimParam = Annotated[str, Query(json_schema_extra=_WORDS_SCHEMA), _checked_words("claim")]


def _json_integer(value: object) -> object:
    """JSON Schema's integer: a number with no fraction (8 or 8.0), never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a whole number")
    return value


class Turn(BaseModel):
    """An earlier turn of the conversation: its question and the answer it got."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: Text = Field(max_length=MAX_QUESTION_CHARS)
    answer: Text = Field(default="", max_length=MAX_HISTORY_ANSWER_CHARS)


class AskRequest(BaseModel):
    """A question, optionally with the conversation so far."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"question": "What are the stages of exosome formation?"},
        {"question": "and in melanoma?", "history": [{"question": "Which cells secrete MET-carrying exosomes?",
                                                      "answer": "..."}], "top_k": 5},
    ]})

    question: Words
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description=f"Earlier turns, oldest first (at most {MAX_HISTORY_TURNS}).")
    top_k: Annotated[int, BeforeValidator(_json_integer)] = Field(
        default=8, ge=1, le=50, strict=False, description="How many retrieved passages to return (1-50).")


class ErrorDetail(BaseModel):
    status: int
    message: str = Field(description="What went wrong and what to do, in a sentence or two.")
    details: list[str] = Field(description="One line per invalid field, when the request did not validate.")


class ErrorBody(BaseModel):
    """The one error shape of every route (pages show the same fields on the error page)."""

    error: ErrorDetail


ERROR_RESPONSES = {
    status: {"model": ErrorBody, "description": description} for status, description in [
        (400, "The body could not be read"), (404, "No such document, passage or reference"),
        (413, "The body is over the size limit"), (422, "The request is not valid"),
        (503, "Busy: retry after the Retry-After header's seconds"), (504, "Over the per-request time limit"),
    ]
}


# FastAPI's message for a body its JSON parser gave up on (not UTF-8, nested too deep).
FASTAPI_BODY_UNREADABLE = "There was an error parsing the body"
BIBTEX = "application/x-bibtex"
RIS = "application/x-research-info-systems"


def _text(media_type: str) -> dict:
    """The OpenAPI description of a 200 that is a text download of ``media_type``."""
    return {200: {"description": "The reference, as a file", "content": {media_type: {"schema": {"type": "string"}}}}}


class AskResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_ANSWER]})

    question: str
    answer: str
    abstained: bool
    confidence: float
    confidence_level: str = Field(default="low", description="high (right at least 9 times in 10 on the "
                                  "fit questions), medium, or low (abstained)")
    sentences: list[dict]
    citations: list[dict]
    passages: list[dict]
    timing_ms: dict
    reason: str = ""
    references: list[str] = Field(default_factory=list, description="The cited papers, formatted as references.")


def create_app(settings: Settings | None = None, index: Index | None = None) -> FastAPI:
    """The app over ``index`` (loaded, and built if missing or stale, from ``settings`` when not given)."""
    settings = settings or Settings.from_env()
    index = index or ensure_index(settings, log=log.warning)
    live = LiveIndex(settings, index)
    admission = Admission(settings.max_active_requests, settings.max_waiting_requests)
    # The other front doors are shells over the same views; they import this module's request models.
    from qa.mcp_server import build_mcp_server, streamable_http_routes
    from qa.openai_api import chat_router

    mcp = build_mcp_server(live.current, settings)
    mcp_routes = streamable_http_routes(mcp, settings)
    app = FastAPI(title="exosome-qa", version="0.1.0", lifespan=lambda _: mcp.session_manager.run(),
                  responses=ERROR_RESPONSES, docs_url=None,
                  description="Extractive, cited answers from two review papers on exosomes in cancer.")
    app.state.live = live
    app.state.mcp = mcp
    app.router.routes.extend(mcp_routes)
    app.include_router(chat_router(live.current))
    if settings.api_key:
        app.add_middleware(APIKeyMiddleware, key=settings.api_key)
    templates = Jinja2Templates(directory=str(settings.web_dir / "templates"))
    templates.env.filters["link_refs"] = link_refs
    templates.env.filters["isolate"] = isolate
    app.mount("/static/swagger", StaticFiles(directory=str(files("fastapi_offline") / "static")), name="swagger")
    app.mount("/static", StaticFiles(directory=str(settings.web_dir / "static")), name="static")

    def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    # ---- JSON API --------------------------------------------------------------------

    @app.get("/api/health", tags=["api"], operation_id="health")
    def health() -> dict:
        """Whether the service answers, from which index, and whether that is the current one on disk."""
        live.current()  # a health check alone is enough to notice a rebuilt index
        return {"status": "ok", **live.status(), "requests": {"active": admission.active, "waiting": admission.waiting}}

    # The answers are async routes that run the view on a worker thread themselves: a plain route also validates
    # its response on a worker, a second hop a request (measured in-process over ASGI, 94 cached questions: p50
    # 2.7 against 3.1 ms).
    @app.post("/api/ask", response_model=AskResponse, tags=["api"], operation_id="ask")
    async def ask(body: AskRequest) -> dict:
        """Answer a question with quoted sentences or table rows and numbered citations, or abstain."""
        history = [turn.model_dump() for turn in body.history]
        return await run_in_threadpool(views.ask_view, live.current(), body.question, history, body.top_k)

    @app.get("/api/ask", response_model=AskResponse, tags=["api"], operation_id="ask_get")
    async def ask_get(question: QuestionParam,
                      top_k: Annotated[int, Query(ge=1, le=50)] = 8) -> dict:
        """The same answer for a question in the URL (no history): the chat page's JSON twin."""
        return await run_in_threadpool(views.ask_view, live.current(), question, [], top_k)

    @app.get("/api/cite", tags=["api"], operation_id="cite")
    def cite(claim: ClaimParam, k: Annotated[int, Query(ge=1, le=20)] = 5):
        """The passages that best support a claim, each with its best sentence and a support score."""
        return views.cite_view(live.current(), claim, k)

    @app.get("/api/documents", tags=["api"], operation_id="list_documents")
    def documents() -> dict:
        return views.documents_view(live.index)

    @app.get("/api/documents/{doc}", tags=["api"], operation_id="get_document")
    def document(doc: str) -> dict:
        return views.document_view(live.index, doc)

    @app.get("/api/documents/{doc}/refs/{ref}", tags=["api"], operation_id="get_reference_citations")
    def refs(doc: str, ref: int) -> dict:
        return views.refs_view(live.index, doc, ref)

    @app.get("/api/documents/{doc}/cite.bib", tags=["api"], response_class=Response, responses=_text(BIBTEX),
             operation_id="get_bibtex")
    def cite_bib(doc: str) -> Response:
        return Response(views.bibtex_view(live.index, doc), media_type=f"{BIBTEX}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{doc}.bib"'})

    @app.get("/api/documents/{doc}/cite.ris", tags=["api"], response_class=Response, responses=_text(RIS),
             operation_id="get_ris")
    def cite_ris(doc: str) -> Response:
        return Response(views.ris_view(live.index, doc), media_type=f"{RIS}; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{doc}.ris"'})

    @app.get("/api/passages/{passage_id}", tags=["api"], operation_id="get_passage")
    def passage(passage_id: str) -> dict:
        return views.passage_view(live.index, passage_id)

    # ---- HTML pages ------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, q: Annotated[str, Query(max_length=MAX_QUESTION_CHARS),
                                            AfterValidator(check_text)] = "") -> HTMLResponse:
        question = q.strip()
        answer = views.ask_view(live.current(), question) if question else None
        json_url = f"/api/ask?{urlencode({'question': question})}" if question else "/docs#/api/ask"
        return page(request, "chat.html", {"question": question, "answer": answer,
                                           "examples": views.EXAMPLE_QUESTIONS, "json_url": json_url})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        """Swagger UI from this server's own assets (FastAPI's default loads it from a CDN, with inline script)."""
        return page(request, "docs.html", {"json_url": "/openapi.json"})

    @app.get("/documents", response_class=HTMLResponse, include_in_schema=False)
    def documents_page(request: Request) -> HTMLResponse:
        return page(request, "documents.html", {**views.documents_view(live.index), "json_url": "/api/documents"})

    @app.get("/documents/{doc}", response_class=HTMLResponse, include_in_schema=False)
    def document_page(request: Request, doc: str) -> HTMLResponse:
        return page(request, "document.html", {**views.document_view(live.index, doc), "json_url": f"/api/documents/{doc}"})

    @app.get("/refs/{doc}/{ref}", response_class=HTMLResponse, include_in_schema=False)
    def refs_page(request: Request, doc: str, ref: int) -> HTMLResponse:
        return page(request, "refs.html", {**views.refs_view(live.index, doc, ref),
                                           "json_url": f"/api/documents/{doc}/refs/{ref}"})

    # ---- errors: one shape, JSON under /api, a page elsewhere --------------------------

    def error(request: Request, status: int, message: str, details: list | None = None) -> Response:
        body = {"error": {"status": status, "message": message, "details": details or []}}
        if request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", "text/html"):
            return JSONResponse(body, status_code=status)
        return page(request, "error.html", body, status=status)

    @app.exception_handler(views.NotFound)
    async def not_found(request: Request, exc: views.NotFound) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = f"There is no page at {request.url.path!r}."
        if message == FASTAPI_BODY_UNREADABLE:
            message = "The body could not be read: send JSON text in UTF-8."
        return error(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [_describe(e) for e in exc.errors()]
        return error(request, 422, "The request is not valid: " + "; ".join(details), details)

    app.add_middleware(Guard, settings=settings, admission=admission, error_response=error)
    return app


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if error.get("type") == "missing":
        return f"'{where}' is required"
    return f"{where}: {message}" if where else message


def isolate(text: str) -> str:
    """``text`` between Unicode isolates (FSI ... PDI), so direction controls in it cannot reorder what follows
    on the same line, as in a page title built from a question."""
    return f"\u2068{text}\u2069"


def link_refs(text: str, doc: str) -> Markup:
    """Escape ``text`` and turn each bracketed citation into links to the reference pages."""
    out, last = [], 0
    for match in REF_BRACKET.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        linked = re.sub(r"\d+", lambda n: f'<a class="ref" href="/refs/{escape(doc)}/{n.group(0)}">{n.group(0)}</a>',
                        str(escape(match.group(0))))
        out.append(f'<span class="refs">{linked}</span>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
