"""MCP front door: the views as read-only tools and resources, at /mcp (Streamable HTTP) and over stdio (`qa mcp`).

Each tool turns its arguments into one view call and the view's data into a result whose text is a
complete answer on its own (quotes with [n] markers, then numbered sources with links), because most
clients show the model only that text; the structured copy is the view's data with absolute links.
"""

# No "from __future__ import annotations": the SDK reads the tools' annotations, which name models imported
# inside build_mcp_server, when they are registered.

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import BaseRoute

from qa import cited_text, views
from qa.answer import Pipeline
from qa.settings import MAX_QUESTION_CHARS, Settings
from qa.validate import check_words

MCP_PATH = "/mcp"
# Passages a search returns: as many as the ask view lists by default.
SEARCH_RESULTS = 8
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)
INSTRUCTIONS = (
    "Answers questions about exosomes in cancer from two review papers (Zhang et al. 2015, Exosomes in cancer: "
    "small particle, big player; Bae et al. 2018, Exosomes derived from cancerous and non-cancerous cells regulate "
    "the anti-tumor response in the tumor microenvironment). Every answer is quoted word for word from the papers "
    "with numbered sources; when the papers do not answer, the tools say so. Quote the sentences and keep the [n] "
    "markers and source links when you pass an answer on."
)


class SearchResult(BaseModel):
    id: str = Field(description="Passage id, for fetch.")
    title: str
    url: str
    text: str


class SearchResults(BaseModel):
    results: list[SearchResult]


class FetchResult(BaseModel):
    id: str
    title: str
    text: str
    url: str
    metadata: dict[str, Any]


def build_mcp_server(current: Callable[[], Pipeline], settings: Settings) -> MCPServer:
    """The MCP server over the pipeline ``current()`` returns at each call (a rebuilt index is followed):
    tools ask, cite, search, fetch, documents, references and two resources.

    Links point at the server that received the request, or at ``settings``' host and port over stdio.
    """
    # The request and answer models of POST /api/ask; imported here because qa.service builds this server.
    from qa.service import AskRequest, AskResponse, Turn

    server = MCPServer("exosome-qa", title="Exosomes in cancer: cited answers", instructions=INSTRUCTIONS,
                       version="0.1.0", log_level="WARNING")
    fallback_base_url = f"http://{settings.host}:{settings.port}"

    def base_url(ctx: Context) -> str:
        request = ctx.request_context.request
        return str(request.base_url).rstrip("/") if request is not None else fallback_base_url

    @server.tool(annotations=READ_ONLY, title="Ask the reviews")
    def ask(question: Annotated[str, Field(description="The question, in plain words (1-1000 characters).")],
            ctx: Context,
            history: Annotated[list[Turn] | None, Field(
                description="Earlier turns of this conversation, oldest first, for follow-up questions "
                            "('and in melanoma?'); each answer as this tool returned it.")] = None,
            top_k: Annotated[int, Field(ge=1, le=50, description="How many retrieved passages to list.")] = 8,
            ) -> Annotated[CallToolResult, AskResponse]:
        """Answer a question about exosomes in cancer from two review papers (Zhang 2015, Bae 2018).

        Use this for any question on exosome biology, biogenesis, cargo, tumour immunity, metastasis,
        biomarkers, isolation or therapy. The answer is one to three sentences or table rows quoted
        word for word from the papers, each followed by a citation marker [n], then the numbered sources
        (paper, section or table, the paper's own reference numbers, a link). When the papers do not answer,
        it says so and lists the nearest passages: do not fill the gap from memory.
        """
        try:
            request = AskRequest(question=question, history=history or [], top_k=top_k)
        except ValidationError as exc:
            raise ToolError(_validation_message(exc)) from exc
        data = views.ask_view(current(), request.question, [t.model_dump() for t in request.history], request.top_k)
        return _result(cited_text.answer_text(data, base_url(ctx)).text, data, base_url(ctx))

    @server.tool(annotations=READ_ONLY, title="Find support for a claim")
    def cite(claim: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS,
                                         description="A statement to look up, e.g. a sentence you wrote.")],
             ctx: Context) -> Annotated[CallToolResult, dict[str, Any]]:
        """Find which passages of the two reviews support a claim, best first, each with its best sentence.

        Use this to check or source a statement before stating it; an empty result means the reviews do not
        support it.
        """
        data = views.cite_view(current(), _words(claim, "claim"))
        return _result(cited_text.cite_text(data, base_url(ctx)), data, base_url(ctx))

    @server.tool(annotations=READ_ONLY, title="Search passages")
    def search(query: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="Words to search for.")],
               ctx: Context) -> Annotated[CallToolResult, SearchResults]:
        """Search the two reviews for passages about a topic; returns passage ids, titles, links and text.

        Use fetch with an id to read a whole passage. Prefer ask for a direct answer.
        """
        pipeline = current()
        data = views.ask_view(pipeline, _words(query, "query"), [], SEARCH_RESULTS)
        results = [{"id": p["id"], "title": f"{pipeline.index.documents[p['doc']].title} - {p['section']}",
                    "url": base_url(ctx) + p["url"], "text": p["text"]} for p in data["passages"]]
        return _result(cited_text.search_text(results), {"results": results}, base_url(ctx))

    @server.tool(annotations=READ_ONLY, title="Read a passage")
    def fetch(id: Annotated[str, Field(description="A passage id from search or a citation, "
                                                   "e.g. 'zhang2015-p002-0' or 'bae2018-t1-r04'.")],
              ctx: Context) -> Annotated[CallToolResult, FetchResult]:
        """Read one passage of the reviews in full, with its section, the paper's references and its neighbours."""
        data = _view(views.passage_view, current().index, id)
        passage, document = data["passage"], data["document"]
        record = {"id": passage["id"], "title": f"{document['title']} - {passage['label'] or passage['section']}",
                  "text": passage["text"], "url": base_url(ctx) + passage["url"],
                  "metadata": {"doc": passage["doc"], "section": passage["section"], "kind": passage["kind"],
                               "refs": passage["refs"], "previous": data["previous"], "next": data["next"],
                               "reference": document["reference"]}}
        return _result(cited_text.passage_text(data, base_url(ctx)), record, base_url(ctx))

    @server.tool(annotations=READ_ONLY, title="List the papers")
    def documents(ctx: Context) -> Annotated[CallToolResult, dict[str, Any]]:
        """List the two review papers this server answers from: ids, full references, size, links."""
        data = views.documents_view(current().index)
        return _result(cited_text.documents_text(data, base_url(ctx)), data, base_url(ctx))

    @server.tool(annotations=READ_ONLY, title="Sentences citing a reference")
    def references(doc: Annotated[str, Field(description="Paper id: 'zhang2015' or 'bae2018'.")],
                   n: Annotated[int, Field(ge=1, description="The paper's own reference number, as in [12].")],
                   ctx: Context) -> Annotated[CallToolResult, dict[str, Any]]:
        """List every sentence and table row of a paper that cites its reference [n], with links.

        Use this to see what a paper says on the strength of one of its references.
        """
        data = _view(views.refs_view, current().index, doc, n)
        return _result(cited_text.refs_text(data, base_url(ctx)), data, base_url(ctx))

    @server.resource("passage://{passage_id}", name="passage", mime_type="text/plain",
                     description="One passage of a paper, with its section, references and link.")
    def passage_resource(passage_id: str, ctx: Context) -> str:
        return cited_text.passage_text(_read(views.passage_view, current().index, passage_id), base_url(ctx))

    @server.resource("document://{doc}", name="document", mime_type="text/plain",
                     description="A whole paper, passage by passage under its sections, with passage ids.")
    def document_resource(doc: str, ctx: Context) -> str:
        return cited_text.document_text(_read(views.document_view, current().index, doc), base_url(ctx))

    return server


def streamable_http_routes(server: MCPServer, settings: Settings) -> list[BaseRoute]:
    """The route serving ``server`` at /mcp: stateless, JSON responses, Host and Origin checked.

    The caller's lifespan must run ``server.session_manager.run()``.
    """
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
                                     transport_security=transport_security(settings))
    return list(app.routes)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection allowing the configured host and the loopback names, on any port."""
    hosts = list(dict.fromkeys([settings.host, "127.0.0.1", "localhost", "[::1]"]))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[h for host in hosts for h in (host, f"{host}:*")],
        allowed_origins=[o for host in hosts for o in (f"http://{host}", f"http://{host}:*")],
    )


def _result(text: str, data: dict, base_url: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=cited_text.absolute_urls(data, base_url))


def _view(view, *args) -> dict:
    try:
        return view(*args)
    except views.NotFound as exc:
        raise ToolError(str(exc)) from exc


def _read(view, *args) -> dict:
    try:
        return view(*args)
    except views.NotFound as exc:
        raise ResourceError(str(exc)) from exc


def _words(value: str, what: str) -> str:
    """``value`` checked as the JSON API checks a question (text, not blank, not too long), trimmed."""
    try:
        return check_words(value, MAX_QUESTION_CHARS, what)
    except ValueError as exc:
        raise ToolError(f"{what}: {exc}") from exc


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                     for e in exc.errors())
