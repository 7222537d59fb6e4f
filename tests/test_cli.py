"""The `qa` command, run as a user runs it, against the session's index."""

from __future__ import annotations

import json
import subprocess
import sys


def qa(*args, settings, check=True):
    cmd = [sys.executable, "-m", "qa.cli", *args, "--index", str(settings.index_dir), "--no-build"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=check)


def test_help_answers_without_loading_the_model():
    out = subprocess.run([sys.executable, "-m", "qa.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "build" in out.stdout and "passages" in out.stdout


def test_ask_prints_the_answer_with_citations(settings, manifest):
    out = qa("ask", "What are the stages of exosome formation?", settings=settings)
    assert "initiation, endocytosis" in out.stdout
    assert "[1] Exosomes in cancer: small particle, big player" in out.stdout


def test_ask_json_is_the_api_contract(settings, manifest, http):
    question = "Which integrin is passed between prostate cancer cells?"
    data = json.loads(qa("ask", question, "--json", settings=settings).stdout)
    api = http.post("/api/ask", json={"question": question}).json()
    assert data["answer"] == api["answer"] and data["citations"] == api["citations"]


def test_passages_json_lists_one_object_per_line(settings, manifest):
    lines = qa("passages", "--doc", "bae2018", "--kind", "table_row", "--json", settings=settings).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 21 and all(r["doc"] == "bae2018" and r["kind"] == "table_row" for r in records)
    assert {"id", "doc", "section", "kind", "text", "refs"} <= set(records[0])


def test_missing_index_is_a_one_line_error(settings, tmp_path):
    out = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "hello?", "--index", str(tmp_path / "none"),
                          "--no-build"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("qa: Cannot use the index: no index at") and "Traceback" not in out.stderr


def test_eval_scores_a_question_file(settings, manifest, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "x1", "question": "How big are exosomes in diameter according to Zhang?",
                                     "kind": "number", "doc": "zhang2015", "expect": ["50–100 nm"], "refs": [],
                                     "history": []}) + "\n")
    summary = json.loads(qa("eval", "--questions", str(questions), "--json", settings=settings).stdout)["q"]
    assert summary["overall"]["n"] == 1 and summary["rows"][0]["id"] == "x1"


def test_eval_without_files_scores_every_set_of_the_project():
    from qa.calibrate import FIT_SETS
    from qa.evaluate import project_sets

    names = [path.stem for path in project_sets()]
    assert set(FIT_SETS) <= set(project_sets())
    assert {"questions", "people_holdout", "people2_holdout", "people4_holdout", "statements_holdout",
            "people5_holdout", "people6_holdout", "people7_holdout", "people8_holdout",
            "people9_holdout", "written2_holdout"} <= set(names)
    assert len(names) == len(set(names))  # one column each, the measuring sets first
    assert names[0] == "questions"
