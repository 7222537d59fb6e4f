"""A request's deadline stops the pipeline between its stages, in the worker thread that runs it."""

from __future__ import annotations

import pytest
from conftest import run_async
from starlette.concurrency import run_in_threadpool

from qa import deadline


def test_work_past_its_deadline_stops_between_stages(pipeline):
    token = deadline.start(-1.0)
    try:
        with pytest.raises(deadline.DeadlineExceeded, match="retrieval"):
            pipeline.ask("What are the stages of exosome formation?")
    finally:
        deadline.end(token)
    assert not pipeline.ask("What are the stages of exosome formation?").abstained


def test_the_deadline_travels_into_the_worker_thread_a_route_runs_in():
    async def route_in_a_thread():
        token = deadline.start(-1.0)
        try:
            await run_in_threadpool(deadline.check, "the route")
        finally:
            deadline.end(token)

    with pytest.raises(deadline.DeadlineExceeded, match="the route"):
        run_async(route_in_a_thread())
    deadline.check("no deadline set")  # outside a request nothing stops
