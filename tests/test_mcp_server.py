"""The MCP server through the SDK's own client: over Streamable HTTP at /mcp of the real server, and over stdio (`qa mcp`)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from conftest import run_async

QUESTION = "What are the stages of exosome formation?"
OFF_TOPIC = "What is the capital of Australia?"
TOOLS = {"ask", "cite", "search", "fetch", "documents", "references"}


def with_mcp(url: str, use):
    """Run ``use(client)`` with an MCP client connected to ``url`` (a URL or stdio parameters); return its result."""
    async def session():
        async with Client(url) as client:
            return await use(client)
    return run_async(session())


def test_every_tool_is_read_only_described_and_has_an_output_schema(server_url):
    tools = with_mcp(f"{server_url}/mcp", lambda c: c.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
        assert len(tool.description) > 60 and tool.output_schema["type"] == "object"
    ask = next(t for t in tools if t.name == "ask")
    assert ask.input_schema["required"] == ["question"] and "history" in ask.input_schema["properties"]
    assert {"answer", "sentences", "citations", "abstained"} <= set(ask.output_schema["properties"])


def test_ask_quotes_the_api_answer_with_sources_and_links_that_resolve(server_url, http):
    api = http.post("/api/ask", json={"question": QUESTION}).json()
    result = with_mcp(f"{server_url}/mcp", lambda c: c.call_tool("ask", {"question": QUESTION}))
    text = result.content[0].text
    assert result.is_error is False and text.startswith(api["answer"] + "\n\n**Sources**")
    assert result.structured_content["sentences"] == api["sentences"]
    citation = api["citations"][0]
    link = f"{server_url}{citation['url']}"
    assert f"- [1] [{citation['doc_title']} - {citation['section']}]({link})" in text
    assert "citing the paper's references [1, 2]" in text
    assert result.structured_content["citations"][0]["url"] == link
    assert httpx.get(link).status_code == 200


def test_ask_follows_up_on_the_history_like_the_api(server_url, http):
    history = [{"question": "How do melanoma cells take up exosomes?",
                "answer": "Melanoma cells could take up exosomes by fusion and low pH facilitates this process."}]
    question = "which reference supports that?"
    api = http.post("/api/ask", json={"question": question, "history": history}).json()
    result = with_mcp(f"{server_url}/mcp", lambda c: c.call_tool("ask", {"question": question, "history": history}))
    assert api["abstained"] is False and result.structured_content["sentences"] == api["sentences"]


def test_ask_says_in_words_when_the_reviews_do_not_answer(server_url):
    result = with_mcp(f"{server_url}/mcp", lambda c: c.call_tool("ask", {"question": OFF_TOPIC}))
    text = result.content[0].text
    assert result.is_error is False and result.structured_content["abstained"] is True
    assert "do not answer this question" in text and "**Sources**" not in text
    assert text.count(f"]({server_url}/documents/") == 3  # the nearest passages, linked


def test_a_blank_question_is_a_tool_error_that_says_why(server_url):
    result = with_mcp(f"{server_url}/mcp", lambda c: c.call_tool("ask", {"question": "   "}))
    assert result.is_error is True and "the question is empty" in result.content[0].text


def test_cite_and_search_check_their_text_as_ask_does(server_url):
    async def calls(client):
        return [await client.call_tool("cite", {"claim": "   "}),
                await client.call_tool("search", {"query": "exosomes\x07 in urine"})]
    blank, control = with_mcp(f"{server_url}/mcp", calls)
    assert blank.is_error is True and "the claim is empty" in blank.content[0].text
    assert control.is_error is True and "U+0007" in control.content[0].text


def test_search_then_fetch_reads_the_passage_the_api_serves(server_url, http):
    async def search_then_fetch(client):
        found = await client.call_tool("search", {"query": "exosome biogenesis stages"})
        first = found.structured_content["results"][0]
        return found, first, await client.call_tool("fetch", {"id": first["id"]})

    found, first, fetched = with_mcp(f"{server_url}/mcp", search_then_fetch)
    passage = http.get(f"/api/passages/{first['id']}").json()["passage"]
    assert f"(id {first['id']})" in found.content[0].text and first["url"].startswith(server_url + "/documents/")
    assert fetched.structured_content["text"] == passage["text"] and passage["text"] in fetched.content[0].text
    assert set(fetched.structured_content) == {"id", "title", "text", "url", "metadata"}


def test_fetching_an_unknown_passage_is_a_tool_error_naming_it(server_url):
    result = with_mcp(f"{server_url}/mcp", lambda c: c.call_tool("fetch", {"id": "zhang2015-p999-9"}))
    assert result.is_error is True and "No passage 'zhang2015-p999-9'" in result.content[0].text


def test_cite_documents_and_references_answer_in_text(server_url, http):
    async def calls(client):
        return [await client.call_tool(name, args) for name, args in [
            ("cite", {"claim": "Exosome formation includes initiation, endocytosis, MVB formation and secretion."}),
            ("documents", {}), ("references", {"doc": "zhang2015", "n": 15})]]

    cite, documents, references = with_mcp(f"{server_url}/mcp", calls)
    best = http.get("/api/cite", params={"claim": "Exosome formation includes initiation, endocytosis, MVB "
                                                  "formation and secretion."}).json()["results"][0]
    assert f"[1] \"{best['sentence']}\"" in cite.content[0].text
    assert "zhang2015: Xu Zhang" in documents.content[0].text and "bae2018: " in documents.content[0].text
    citing = http.get("/api/documents/zhang2015/refs/15").json()["citing"]
    assert all(c["text"] in references.content[0].text for c in citing)


def test_passage_and_document_resources_read_as_text(server_url, http):
    async def read(client):
        return (await client.read_resource("passage://zhang2015-p002-0"),
                await client.read_resource("document://bae2018"))

    passage, document = with_mcp(f"{server_url}/mcp", read)
    expected = http.get("/api/passages/zhang2015-p002-0").json()["passage"]["text"]
    assert expected in passage.contents[0].text
    assert f"{server_url}/documents/zhang2015#p-zhang2015-p002-0" in passage.contents[0].text
    first = http.get("/api/documents/bae2018").json()["passages"][0]
    assert f"[{first['id']}] {first['text']}" in document.contents[0].text


def test_a_lone_json_rpc_post_gets_a_json_answer_without_a_session(server_url):
    # Stateless with JSON responses: any HTTP client can call a tool in one request, no SSE, no session to keep.
    response = httpx.post(f"{server_url}/mcp", headers={"Accept": "application/json, text/event-stream"},
                          json={"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                "params": {"name": "ask", "arguments": {"question": QUESTION}}})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers
    body = response.json()
    assert body["id"] == 7 and "initiation, endocytosis" in body["result"]["content"][0]["text"]


def test_a_request_naming_another_host_is_refused(server_url):
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not reach the tools.
    response = httpx.post(f"{server_url}/mcp", headers={"Host": "evil.example", "Accept": "application/json"},
                          json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code in (403, 421)


@pytest.fixture(scope="module")
def stdio_server(settings, index) -> StdioServerParameters:
    """`qa mcp` over the session's index (already built, so it loads rather than rebuilds)."""
    qa = Path(sys.executable).with_name("qa")
    return StdioServerParameters(command=str(qa), args=["mcp", "--no-build", "--index", str(settings.index_dir),
                                                        "--corpus", str(settings.corpus_dir)])


def test_qa_mcp_over_stdio_answers_like_the_api_and_writes_only_protocol(stdio_server, http, caplog):
    async def use(client):
        return await client.list_tools(), await client.call_tool("ask", {"question": QUESTION})

    tools, result = with_mcp(stdio_server, use)
    api = http.post("/api/ask", json={"question": QUESTION}).json()
    assert {t.name for t in tools.tools} == TOOLS
    assert result.structured_content["sentences"] == api["sentences"]
    # No HTTP request over stdio: links point at the configured web server.
    assert "](http://127.0.0.1:8000/documents/zhang2015#p-" in result.content[0].text
    # The SDK's client logs every stdout line that is not a JSON-RPC message.
    assert not [r for r in caplog.records if r.name.startswith("mcp.client") and r.levelname == "ERROR"]
