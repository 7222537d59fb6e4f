"""The OpenAI-compatible endpoint through the `openai` client, against /v1 of the real server."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from qa.openai_api import ChatCompletionRequest

QUESTION = "What are the stages of exosome formation?"
OFF_TOPIC = "What is the capital of Australia?"
TITLE_TASK = """### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Output:
JSON format: { "title": "your concise title here" }
### Chat History:
<chat_history>
USER: What is the capital of Australia?
ASSISTANT: The two reviews do not answer this question: no passage in them matches it closely enough.
</chat_history>"""
TAGS_TASK = """### Task:
Generate 1-3 broad tags categorizing the main themes of the chat history.
### Output:
JSON format: { "tags": ["tag1", "tag2", "tag3"] }
### Chat History:
<chat_history>
USER: What are the stages of exosome formation?
</chat_history>"""


@pytest.fixture(scope="module")
def client(server_url):
    with openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0) as client:
        yield client


def ask(client, *messages: str | dict, **options):
    turns = [m if isinstance(m, dict) else {"role": "user", "content": m} for m in messages]
    return client.chat.completions.create(model="exosome-qa", messages=turns, **options)


def test_lists_one_model(client):
    assert [m.id for m in client.models.list()] == ["exosome-qa"]


def test_a_completion_quotes_the_api_answer_and_annotates_each_quote(client, http, server_url):
    api = http.post("/api/ask", json={"question": QUESTION}).json()
    message = ask(client, QUESTION).choices[0].message
    assert message.role == "assistant" and message.content.startswith(api["answer"] + "\n\n**Sources**\n\n- [1] [")
    quoted = [message.content[a.url_citation.start_index:a.url_citation.end_index] for a in message.annotations]
    assert quoted == [s["text"] for s in api["sentences"]]
    for annotation, sentence in zip(message.annotations, api["sentences"]):
        citation = api["citations"][sentence["citation"] - 1]
        assert annotation.type == "url_citation" and annotation.url_citation.url == server_url + citation["url"]
        assert annotation.url_citation.title.startswith(citation["doc_title"])
        assert f"({annotation.url_citation.url})" in message.content  # the source list links it too
        page = httpx.get(annotation.url_citation.url)
        assert page.status_code == 200 and f'id="p-{citation["passage_id"]}"' in page.text


def test_a_streamed_completion_assembles_to_the_same_message(client, server_url):
    whole = ask(client, QUESTION).choices[0]
    chunks = list(ask(client, QUESTION, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks].count("stop") == 1 and chunks[-1].choices[0].finish_reason == "stop"
    streamed = [a for c in chunks for a in (c.choices[0].delta.model_extra or {}).get("annotations", [])]
    assert streamed == [a.model_dump() for a in whole.message.annotations]
    with httpx.stream("POST", f"{server_url}/v1/chat/completions",
                      json={"messages": [{"role": "user", "content": QUESTION}], "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]" and all(e.startswith("data: ") for e in events)


def test_a_follow_up_uses_the_earlier_messages_as_history(client, http):
    first = ask(client, "How do melanoma cells take up exosomes?").choices[0].message.content
    follow_up = "which reference supports that?"
    message = ask(client, "How do melanoma cells take up exosomes?", {"role": "assistant", "content": first},
                  follow_up).choices[0].message
    earlier = http.post("/api/ask", json={"question": "How do melanoma cells take up exosomes?"}).json()
    api = http.post("/api/ask", json={"question": follow_up, "history": [
        {"question": "How do melanoma cells take up exosomes?", "answer": earlier["answer"]}]}).json()
    assert api["abstained"] is False and message.content.startswith(api["answer"] + "\n\n")
    alone = http.post("/api/ask", json={"question": follow_up}).json()
    assert alone["answer"] != api["answer"]  # the history, not the question alone, found it


def test_the_system_prompt_and_content_parts_are_read_like_plain_text(client, http):
    api = http.post("/api/ask", json={"question": QUESTION}).json()
    message = ask(client, {"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
                  temperature=0.2, max_tokens=500, user="someone").choices[0].message
    assert message.content.startswith(api["answer"])


def test_an_unanswerable_question_gets_a_normal_message_saying_so(client):
    choice = ask(client, OFF_TOPIC).choices[0]
    assert choice.finish_reason == "stop" and choice.message.annotations == []
    assert "do not answer this question" in choice.message.content and "/documents/" in choice.message.content


def test_side_tasks_get_a_minimal_valid_reply_never_an_abstention(client):
    title = json.loads(ask(client, TITLE_TASK).choices[0].message.content)
    assert title == {"title": "What is the capital of Australia"}
    assert json.loads(ask(client, TAGS_TASK).choices[0].message.content) == {"tags": []}
    streamed = "".join(c.choices[0].delta.content or "" for c in ask(client, TITLE_TASK, stream=True))
    assert json.loads(streamed) == title


@pytest.mark.parametrize("body, fragment", [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "system", "content": "Be brief."}]}, "no user message"),
    ({"messages": [{"role": "user", "content": "   "}]}, "the question is empty"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "role"),
    ({"model": "exosome-qa"}, "'messages' is required"),
    ({"messages": [{"role": "user", "content": "hi"}], "stream": 1}, "stream"),
])
def test_bad_requests_get_422_with_the_usual_error_body(http, body, fragment):
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["status"] == 422 and fragment in error["message"] and isinstance(error["details"], list)


def test_the_openai_client_reports_a_bad_request_as_an_error(client):
    with pytest.raises(openai.UnprocessableEntityError, match="no user message"):
        ask(client, {"role": "system", "content": "Be brief."})


@pytest.mark.parametrize("example", ChatCompletionRequest.model_config["json_schema_extra"]["examples"])
def test_the_documented_request_examples_are_answered(http, example):
    response = http.post("/v1/chat/completions", json=example)
    assert response.status_code == 200 and "exosome" in response.text.lower()
