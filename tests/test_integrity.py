"""The index on disk: damage found at start, builds killed midway, two builds at once, a rebuild picked up live.

The builds here are real `qa build` processes over the real corpus, killed with SIGKILL at points chosen by
what they have written so far; the service under test is a real server on loopback.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import CORPUS, running

from qa.index import build_index, load_index, stale_reason
from qa.service import create_app

QUESTION = "What are the stages of exosome formation?"
BAE_QUESTION = "Which cells release exosomes that suppress natural killer cells?"


@pytest.fixture
def index_copy(settings, manifest, tmp_path):
    """Settings over a private copy of the session's index, to damage or rebuild."""
    shutil.copytree(settings.index_dir, tmp_path / "idx")
    return dataclasses.replace(settings, index_dir=tmp_path / "idx", index_check_interval_s=0.2)


@pytest.fixture
def one_paper(settings, tmp_path):
    """Settings over a corpus of one of the two papers and its freshly built index (builds take half as long)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "bae2018.txt", corpus)
    records = (CORPUS / "documents.toml").read_text().split("[[document]]")
    (corpus / "documents.toml").write_text("[[document]]" + next(r for r in records if '"bae2018"' in r))
    one = dataclasses.replace(settings, corpus_dir=corpus, index_dir=tmp_path / "idx", index_check_interval_s=0.2)
    build_index(one, progress=False)
    return one


def qa(*args: str, index: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args, "--index", str(index)], capture_output=True,
                          text=True, timeout=300)


def start_build(index: Path, corpus: Path = CORPUS) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qa.cli", "build", "--index", str(index), "--corpus", str(corpus)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_until(condition, what: str, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_the_manifest_records_every_file_with_its_size_and_checksum(manifest, settings):
    files = manifest["files"]
    assert {"passages.faiss", "units.faiss", "vocabulary.faiss", "documents.json"} <= set(files)
    assert any(name.startswith("units.bm25/") for name in files)
    for name, record in files.items():
        assert (settings.index_dir / name).stat().st_size == record["bytes"] and len(record["sha256"]) == 64


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]), "units.faiss is"),
    (lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])), "does not match its checksum"),
    (lambda p: p.unlink(), "units.faiss is missing"),
])
def test_a_damaged_index_is_refused_with_one_line_and_the_way_to_rebuild(index_copy, damage, reason):
    damage(index_copy.index_dir / "units.faiss")
    out = qa("ask", QUESTION, "--no-build", index=index_copy.index_dir)
    assert out.returncode == 1 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("qa: Cannot use the index: ") and reason in out.stderr and "`qa build`" in out.stderr


def test_an_index_of_another_corpus_or_a_broken_manifest_is_refused(index_copy, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "documents.toml").write_text('[[document]]\nid = "mini"\nfile = "mini.txt"\ntitle = "Mini"\n')
    (other / "mini.txt").write_text("Introduction\nExosomes are small vesicles [1].\n")
    out = qa("ask", QUESTION, "--no-build", "--corpus", str(other), index=index_copy.index_dir)
    assert out.returncode == 1 and "the corpus changed since the index was built" in out.stderr
    (index_copy.index_dir / "manifest.json").write_text("[1, 2")
    out = qa("ask", QUESTION, "--no-build", index=index_copy.index_dir)
    assert out.returncode == 1 and "manifest" in out.stderr and "Traceback" not in out.stderr


def test_a_second_build_of_the_same_index_is_refused_naming_the_first(index_copy):
    lock = index_copy.index_dir.parent / ".idx.lock"
    first = start_build(index_copy.index_dir)
    try:
        wait_until(lambda: lock.exists() and f'"pid": {first.pid}' in lock.read_text(), "the first build's lock")
        second = qa("build", index=index_copy.index_dir)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"Another build is writing {index_copy.index_dir} (pid {first.pid}" in second.stderr
    finally:
        first.kill()
        first.wait()
    assert stale_reason(index_copy) is None  # the first build was killed: the index it would replace is whole


def test_builds_killed_at_any_point_leave_the_served_index_whole_and_a_finished_one_is_picked_up_live(one_paper):
    root = one_paper.index_dir
    before = json.loads((root / "manifest.json").read_text())
    building = lambda: list(root.parent.glob(".idx.building-*"))  # noqa: E731
    kill_points = {
        "while starting (model, corpus)": lambda: time.sleep(1.0) or True,
        "when it starts writing the new folder": lambda: bool(building()),
        "when the new manifest is written, just before the swap": lambda: any((b / "manifest.json").exists()
                                                                               for b in building()),
    }
    with running(create_app(one_paper, load_index(one_paper))) as url:
        expected = httpx.post(f"{url}/api/ask", json={"question": BAE_QUESTION}).json()["answer"]
        answers, stop = [], threading.Event()

        def keep_asking():  # a client that never stops, across every kill and the switch
            with httpx.Client(base_url=url, timeout=30) as client:
                while not stop.is_set():
                    response = client.post("/api/ask", json={"question": BAE_QUESTION})
                    answers.append((response.status_code, response.json()["answer"]))
                    stop.wait(0.05)  # a steady client, not a load test: the builds need the CPU

        asker = threading.Thread(target=keep_asking)
        asker.start()
        try:
            for point, reached in kill_points.items():
                build = start_build(root, one_paper.corpus_dir)
                wait_until(lambda: reached() or build.poll() is not None, point)
                build.send_signal(signal.SIGKILL)
                build.wait()
                assert build.returncode == -signal.SIGKILL, f"the build ended before the kill {point}"
                assert json.loads((root / "manifest.json").read_text()) == before, point
                assert stale_reason(one_paper) is None, point
                health = httpx.get(f"{url}/api/health").json()
                assert health["current"] and health["built_at"] == before["built_at"], point

            finished = qa("build", "--corpus", str(one_paper.corpus_dir), index=root)
            assert finished.returncode == 0, finished.stderr
            after = json.loads((root / "manifest.json").read_text())
            assert after["files"] != before["files"] or after["built_at"] != before["built_at"]
            assert building() == []  # the killed builds' folders were cleared by the next build
            wait_until(lambda: httpx.get(f"{url}/api/health").json()["built_at"] == after["built_at"],
                       "the service to switch to the rebuilt index", timeout_s=60)
            time.sleep(0.5)  # some requests answered by the new index
        finally:
            stop.set()
            asker.join()
    assert len(answers) > 10 and {status for status, _ in answers} == {200}
    assert {answer for _, answer in answers} == {expected}  # same corpus: the same answer, before and after
