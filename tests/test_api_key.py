"""QA_API_KEY: with a key set, /api, /v1 and /mcp need it; the pages stay open. Real clients, a second real server."""

from __future__ import annotations

from dataclasses import replace

import httpx
import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conftest import run_async, running
from qa.service import create_app

KEY = "test-key-7f3a"


@pytest.fixture(scope="module")
def keyed_url(settings, index):
    with running(create_app(replace(settings, api_key=KEY), index)) as url:
        yield url


@pytest.mark.parametrize("path", ["/api/health", "/api/documents", "/v1/models", "/mcp"])
def test_without_the_key_each_machine_path_answers_401_with_the_usual_error_body(keyed_url, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        response = httpx.get(keyed_url + path, headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["status"] == 401 and "API key" in error["message"] and error["details"] == []


def test_with_the_key_the_api_answers_and_the_pages_need_none(keyed_url):
    bearer = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{keyed_url}/api/health", headers=bearer).json()["status"] == "ok"
    assert httpx.get(f"{keyed_url}/documents/zhang2015").status_code == 200


def test_the_openai_client_sends_the_key_as_its_api_key(keyed_url):
    with openai.OpenAI(base_url=f"{keyed_url}/v1", api_key=KEY, max_retries=0) as client:
        assert [m.id for m in client.models.list()] == ["exosome-qa"]
    with openai.OpenAI(base_url=f"{keyed_url}/v1", api_key="wrong", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            client.models.list()


def test_an_mcp_client_with_the_key_lists_the_tools(keyed_url):
    async def tools():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http_client:
            async with Client(streamable_http_client(f"{keyed_url}/mcp", http_client=http_client)) as client:
                return await client.list_tools()

    assert "ask" in {t.name for t in run_async(tools()).tools}
