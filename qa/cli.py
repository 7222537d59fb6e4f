"""The `qa` command: build, ask, serve, mcp, passages, eval, calibrate. A thin shell over the library."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from qa.settings import QUERY_ENCODERS, Settings, offline


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `qa` console script."""
    offline()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model,
                                 auto_build=False if args.no_build else None, store=args.store,
                                 milvus_uri=args.milvus_uri, query_encoder=args.query_encoder,
                                 ray_address=getattr(args, "ray", None))
    from qa.index import IndexUnavailable
    from qa.ingest import CorpusError
    from qa.lock import IndexBusy

    try:
        return args.handler(args, settings) or 0
    except (IndexUnavailable, CorpusError, IndexBusy) as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # output piped into `head` and closed: not an error
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Extractive, cited answers from two reviews on exosomes in cancer.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", type=Path, help="index folder (default: index/ of the project, or QA_INDEX_DIR)")
    common.add_argument("--corpus", type=Path, help="corpus folder with documents.toml (default: corpus/, or QA_CORPUS_DIR)")
    common.add_argument("--model", help="local sentence-transformers folder (default: the bundled all-MiniLM-L6-v2)")
    common.add_argument("--no-build", action="store_true",
                        help="refuse a missing or stale index instead of rebuilding it")
    common.add_argument("--store", choices=["faiss", "milvus"],
                        help="where vectors and BM25 live: faiss (files in the index folder, default) or milvus (or QA_STORE)")
    common.add_argument("--milvus-uri", help="Milvus for --store milvus: a path ending in .db (Milvus Lite) or "
                        "http://host:19530 (default: Milvus Lite in the index folder, or QA_MILVUS_URI)")
    common.add_argument("--query-encoder", choices=QUERY_ENCODERS,
                        help="what embeds queries: onnx (the index's ONNX export on onnxruntime, default) or torch "
                        "(or QA_QUERY_ENCODER)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name, handler, help_text):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("build", _build, "Parse the corpus and build the FAISS + BM25 index.")
    p.add_argument("--ray", metavar="ADDRESS", help="embed on Ray Data: 'local', 'auto' or ray://host:10001 (or QA_RAY_ADDRESS)")
    p = command("ask", _ask, "Answer one question from the command line.")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--json", action="store_true", help="print the API JSON instead of text")
    p.add_argument("--top-k", type=int, default=8, help="passages to retrieve and list (1-50, default 8)")
    p = command("serve", _serve, "Serve the chat page and the JSON API.")
    p.add_argument("--host", help="address to bind (default 127.0.0.1, or QA_HOST)")
    p.add_argument("--port", type=int, help="port (default 8000, or QA_PORT)")
    command("mcp", _mcp, "Serve the MCP tools over stdio, for desktop assistants (logs go to stderr).")
    p = command("passages", _passages, "List the indexed passages.")
    p.add_argument("--doc", help="only this document id")
    p.add_argument("--kind", choices=["paragraph", "caption", "table_row"], help="only this kind")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p = command("eval", _eval, "Score question sets in-process, as the referee scorer does, side by side.")
    p.add_argument("--questions", type=Path, nargs="+", default=None,
                   help="questions JSONL files (id, question, kind, expect, refs, history); default: every set of the "
                        "project (measuring, fit, and ../shared/eval's dev and public when present)")
    p.add_argument("--json", action="store_true", help="print the summaries and per-question rows as JSON")
    p = command("bench", _bench, "Measure serving against its floor (embedding, BM25) in one run; print a table, write JSON.")
    p.add_argument("--questions", type=Path, default=None, help="questions JSONL (default tests/data/questions.jsonl)")
    p.add_argument("--json-out", type=Path, default=Path("bench.json"), help="where to write the results (default bench.json)")
    p = command("calibrate", _calibrate, "Fit the reader's weights, then the abstention model, on the fit questions.")
    p.add_argument("--questions", type=Path, nargs="+", default=None,
                   help="questions JSONL files (default: the fit sets in qa/data, qa.calibrate.FIT_SETS)")
    return parser


def _build(args, settings: Settings) -> int:
    from qa.index import build_index

    manifest = build_index(settings, progress=True)
    print(f"Indexed {manifest['passages']} passages and {manifest['units']} answer units of "
          f"{', '.join(manifest['documents'])} in {manifest['build_seconds']} s -> {settings.index_dir}")
    return 0


def _pipeline(settings: Settings):
    from qa.answer import Pipeline
    from qa.index import ensure_index

    return Pipeline(ensure_index(settings, log=lambda m: print(m, file=sys.stderr)))


def _ask(args, settings: Settings) -> int:
    from qa.views import ask_view

    question = args.question.strip()
    if not question:
        print("qa: the question is empty.", file=sys.stderr)
        return 2
    if not 1 <= args.top_k <= 50:
        print("qa: --top-k must be between 1 and 50.", file=sys.stderr)
        return 2
    data = ask_view(_pipeline(settings), question, [], args.top_k)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(data["answer"])
    if data["citations"]:
        print()
        for c in data["citations"]:
            where = c["label"] or c["section"]
            refs = f"  paper refs {c['refs']}" if c["refs"] else ""
            print(f"[{c['n']}] {c['doc_title']} - {where} ({c['passage_id']}){refs}")
    else:
        print("\nNearest passages:")
        for p in data["passages"][:3]:
            print(f"  {p['id']}: {p['text'][:160]}...")
    print(f"\nconfidence {data['confidence']:.2f}")
    return 0


def _serve(args, settings: Settings) -> int:
    import uvicorn

    from qa import logs
    from qa.service import create_app

    logs.configure()
    host = args.host or settings.host
    port = args.port or settings.port
    app = create_app(settings)
    print(f"exosome-qa on http://{host}:{port}", file=sys.stderr)
    # SIGTERM or Ctrl-C: stop accepting, let in-flight requests finish (up to shutdown_grace_s), then exit
    # (uvicorn re-raises the signal, so a process manager sees the usual status).
    uvicorn.run(app, host=host, port=port, log_config=None, log_level="warning",
                timeout_graceful_shutdown=settings.shutdown_grace_s)
    return 0


def _mcp(args, settings: Settings) -> int:
    from contextlib import redirect_stdout

    import anyio

    from qa.service import create_app

    # Only protocol may reach stdout: whatever loading the index prints goes to stderr.
    with redirect_stdout(sys.stderr):
        app = create_app(settings)
    anyio.run(app.state.mcp.run_stdio_async)
    return 0


def _passages(args, settings: Settings) -> int:
    from qa.index import ensure_index
    from qa.views import passage_record

    index = ensure_index(settings, log=lambda m: print(m, file=sys.stderr))
    for passage in index.passages:
        if (args.doc and passage.doc != args.doc) or (args.kind and passage.kind != args.kind):
            continue
        record = passage_record(passage)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{passage.id}\t{passage.kind}\t{passage.section}\t{passage.text[:100]}")
    return 0


def _eval(args, settings: Settings) -> int:
    from qa.evaluate import evaluate, format_sets, load_questions, project_sets

    pipeline = _pipeline(settings)
    summaries = {path.stem: evaluate(pipeline, load_questions(path)) for path in args.questions or project_sets()}
    print(json.dumps(summaries, indent=2) if args.json else format_sets(summaries))
    return 0


def _bench(args, settings: Settings) -> int:
    from qa.bench import DEFAULT_QUESTIONS, format_table, run_bench

    store_args = ["--store", settings.store] + (["--milvus-uri", settings.milvus_uri] if settings.milvus_uri else [])
    results = run_bench(settings, args.questions or DEFAULT_QUESTIONS, store_args)
    args.json_out.write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


def _calibrate(args, settings: Settings) -> int:
    from qa.abstain import (COEFFICIENTS, CV_FOLDS, CV_REPEATS, HIGH_CONFIDENCE_ACCURACY, MAX_FALSE_ABSTAIN,
                            WRITTEN_MAX_FALSE_ABSTAIN, WRITTEN_STYLE)
    from qa.calibrate import FIT_SETS, fit_abstainer, fit_reader
    from qa.evaluate import load_questions
    from qa.reader import WEIGHTS_FILE

    pipeline = _pipeline(settings)
    paths = [path for path in args.questions or FIT_SETS if path.is_file()]
    # Each set is a style of asking (written against the papers, people's): the high band must hold in each.
    questions = [{**q, "style": path.stem} for path in paths for q in load_questions(path)]
    names = [path.name for path in paths]
    print(f"Fitting the reader's weights on {len(questions)} questions ...", file=sys.stderr)
    reader = fit_reader(pipeline, questions, log=lambda m: print(m, file=sys.stderr))
    WEIGHTS_FILE.write_text(json.dumps({**reader, "fitted_on": names}, indent=2) + "\n")
    print("Fitting the abstention model ...", file=sys.stderr)
    model = fit_abstainer(pipeline, questions)
    model.save(COEFFICIENTS, provenance={
        "fitted_on": names, "questions": len(questions),
        "answerable": sum(q["kind"] != "unanswerable" for q in questions),
        "threshold_rule": f"most questions right with grouped {CV_FOLDS}-fold cross-validated false abstention <= "
                          f"{MAX_FALSE_ABSTAIN:.0%} ({WRITTEN_MAX_FALSE_ABSTAIN:.0%} of {WRITTEN_STYLE}'s), probabilities "
                          f"averaged over {CV_REPEATS} shuffles",
        "high_rule": f"lowest value from which on cross-validated answers were right >= {HIGH_CONFIDENCE_ACCURACY:.0%} "
                     "at every floor, overall and within each fit set"})
    print(json.dumps({"reader": reader["weights"], "abstention": asdict(model)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
