"""Service: the FastAPI app. JSON under /api, HTML pages at /, /documents and /refs, from the same views."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import views
from qa.answer import Pipeline
from qa.api_key import APIKeyMiddleware
from qa.index import Index, ensure_index
from qa.settings import Settings
from qa.text import REF_BRACKET

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


class Turn(BaseModel):
    question: str = Field(max_length=4000)
    answer: str = Field(default="", max_length=20000)


class AskRequest(BaseModel):
    """A question, optionally with the conversation so far."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "What are the stages of exosome formation?"},
        {"question": "and in melanoma?", "history": [{"question": "Which cells secrete MET-carrying exosomes?",
                                                      "answer": "..."}], "top_k": 5},
    ]})

    question: str = Field(description="The question, 1 to 1000 characters.")
    history: list[Turn] = Field(default_factory=list, max_length=50)
    top_k: int = Field(default=8, ge=1, le=50, description="How many retrieved passages to return (1-50).")

    @field_validator("question")
    @classmethod
    def _question_has_words(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the question is empty: type a question about exosomes in cancer")
        if len(value) > 1000:
            raise ValueError(f"the question is {len(value)} characters long; keep it under 1000")
        return value


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
    pipeline = Pipeline(index)
    # The other front doors are shells over the same views; they import this module's request models.
    from qa.mcp_server import build_mcp_server, streamable_http_routes
    from qa.openai_api import chat_router

    mcp = build_mcp_server(pipeline, settings)
    mcp_routes = streamable_http_routes(mcp, settings)
    app = FastAPI(title="exosome-qa", version="0.1.0", lifespan=lambda _: mcp.session_manager.run(),
                  description="Extractive, cited answers from two review papers on exosomes in cancer.")
    app.state.pipeline = pipeline
    app.state.mcp = mcp
    app.router.routes.extend(mcp_routes)
    app.include_router(chat_router(pipeline))
    if settings.api_key:
        app.add_middleware(APIKeyMiddleware, key=settings.api_key)
    templates = Jinja2Templates(directory=str(settings.web_dir / "templates"))
    templates.env.filters["link_refs"] = link_refs
    app.mount("/static", StaticFiles(directory=str(settings.web_dir / "static")), name="static")

    def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    # ---- JSON API --------------------------------------------------------------------

    @app.get("/api/health", tags=["api"], operation_id="health")
    def health() -> dict:
        manifest = index.manifest
        return {"status": "ok", "passages": manifest["passages"], "units": manifest["units"],
                "model": manifest["model"], "built_at": manifest["built_at"], "documents": manifest["documents"]}

    @app.post("/api/ask", response_model=AskResponse, tags=["api"], operation_id="ask")
    def ask(body: AskRequest) -> dict:
        """Answer a question with quoted sentences or table rows and numbered citations, or abstain."""
        history = [turn.model_dump() for turn in body.history]
        return views.ask_view(pipeline, body.question, history, body.top_k)

    @app.get("/api/ask", response_model=AskResponse, tags=["api"], operation_id="ask_get")
    def ask_get(question: Annotated[str, Query(min_length=1, max_length=1000)],
                top_k: Annotated[int, Query(ge=1, le=50)] = 8) -> dict:
        """The same answer for a question in the URL (no history): the chat page's JSON twin."""
        if not question.strip():
            raise StarletteHTTPException(422, "the question is empty: type a question about exosomes in cancer")
        return views.ask_view(pipeline, question.strip(), [], top_k)

    @app.get("/api/cite", tags=["api"], operation_id="cite")
    def cite(claim: Annotated[str, Query(min_length=1, max_length=1000)], k: Annotated[int, Query(ge=1, le=20)] = 5):
        """The passages that best support a claim, each with its best sentence and a support score."""
        if not claim.strip():
            raise StarletteHTTPException(422, "the claim is empty: give a sentence to look up")
        return views.cite_view(pipeline, claim.strip(), k)

    @app.get("/api/documents", tags=["api"], operation_id="list_documents")
    def documents() -> dict:
        return views.documents_view(index)

    @app.get("/api/documents/{doc}", tags=["api"], operation_id="get_document")
    def document(doc: str) -> dict:
        return views.document_view(index, doc)

    @app.get("/api/documents/{doc}/refs/{ref}", tags=["api"], operation_id="get_reference_citations")
    def refs(doc: str, ref: int) -> dict:
        return views.refs_view(index, doc, ref)

    @app.get("/api/documents/{doc}/cite.bib", tags=["api"], response_class=PlainTextResponse,
             operation_id="get_bibtex")
    def cite_bib(doc: str) -> Response:
        return Response(views.bibtex_view(index, doc), media_type="application/x-bibtex; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{doc}.bib"'})

    @app.get("/api/documents/{doc}/cite.ris", tags=["api"], response_class=PlainTextResponse,
             operation_id="get_ris")
    def cite_ris(doc: str) -> Response:
        return Response(views.ris_view(index, doc), media_type="application/x-research-info-systems; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{doc}.ris"'})

    @app.get("/api/passages/{passage_id}", tags=["api"], operation_id="get_passage")
    def passage(passage_id: str) -> dict:
        return views.passage_view(index, passage_id)

    # ---- HTML pages ------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, q: str = "") -> HTMLResponse:
        question = q.strip()[:1000]
        answer = views.ask_view(pipeline, question) if question else None
        json_url = f"/api/ask?{urlencode({'question': question})}" if question else "/docs#/api/ask"
        return page(request, "chat.html", {"question": question, "answer": answer,
                                           "examples": views.EXAMPLE_QUESTIONS, "json_url": json_url})

    @app.get("/documents", response_class=HTMLResponse, include_in_schema=False)
    def documents_page(request: Request) -> HTMLResponse:
        return page(request, "documents.html", {**views.documents_view(index), "json_url": "/api/documents"})

    @app.get("/documents/{doc}", response_class=HTMLResponse, include_in_schema=False)
    def document_page(request: Request, doc: str) -> HTMLResponse:
        return page(request, "document.html", {**views.document_view(index, doc), "json_url": f"/api/documents/{doc}"})

    @app.get("/refs/{doc}/{ref}", response_class=HTMLResponse, include_in_schema=False)
    def refs_page(request: Request, doc: str, ref: int) -> HTMLResponse:
        return page(request, "refs.html", {**views.refs_view(index, doc, ref),
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
            message = f"There is no page at {request.url.path}."
        return error(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        details = [_describe(e) for e in exc.errors()]
        return error(request, 422, "The request is not valid: " + "; ".join(details), details)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return error(request, 500, "Something went wrong on our side; the error was logged. Please try again.")

    return app


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if error.get("type") == "missing":
        return f"'{where}' is required"
    return f"{where}: {message}" if where else message


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
