"""`copilot` command line. The contract (flags, JSON shapes, exit codes) is in README.md.

Every command takes --json and then prints exactly one JSON document on stdout; logs and
progress bars go to stderr. Exit codes: 0 ok, 1 failed eval gate, 2 bad input (one line on
stderr), 3 runtime failure.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

from pydantic import ValidationError  # noqa: E402

from .access import ROLES  # noqa: E402
from .domain import DRAFT_STATUSES, REJECT_REASONS  # noqa: E402
from .errors import CopilotError, InputError, UserError  # noqa: E402

log = logging.getLogger("copilot")
EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_RUNTIME = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, as for any bad input
        self.exit(EXIT_INPUT, f"copilot: error: {message}\n")


def _globals() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="index and database (env COPILOT_DATA_DIR, default ./var)")
    g.add_argument("--knowledge-dir", type=Path, default=argparse.SUPPRESS, help="knowledge folder (env COPILOT_KNOWLEDGE_DIR, default ./knowledge)")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document on stdout")
    g.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logs on stderr")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _globals()
    parser = _Parser(prog="copilot", description="Support Copilot: grounded replies from your knowledge base.", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _knowledge_commands(sub, common)
    _drafting_commands(sub, common)
    _admin_commands(sub, common)
    return parser


def _knowledge_commands(sub, common) -> None:
    p = sub.add_parser("index", parents=[common], help="index the knowledge folder (only what changed)")
    p.add_argument("--source", type=Path, help="folder to index (default: the knowledge dir)")
    p.add_argument("--full", action="store_true", help="rebuild from scratch, re-embedding everything")

    p = sub.add_parser("search", parents=[common], help="hybrid search over the index")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=None, help="number of results (default 5)")
    p.add_argument("--lang", choices=["ja", "en"], help="only results in this language")
    p.add_argument("--source", action="append", dest="sources", help="only this file or folder (repeatable)")
    p.add_argument("--tag", action="append", dest="tags", help="only entries with this tag (repeatable)")
    p.add_argument("--type", action="append", dest="doc_types", choices=["faq", "manual", "playbook"], help="only this document type")

    sub.add_parser("status", parents=[common], help="what is indexed, and with which embedder")


def _drafting_commands(sub, common) -> None:
    p = sub.add_parser("draft", parents=[common], help="draft a cited reply to a ticket (stored as pending)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--text", help="the ticket text")
    src.add_argument("--file", type=Path, help="a file with the ticket text ('-' for stdin)")
    p.add_argument("--customer", help="customer id (for the greeting and the history)")
    p.add_argument("--ticket", help="ticket id in the store this draft answers; without --text/--file, the draft is "
                                    "made from its stored conversation (latest customer message, earlier ones as context)")
    p.add_argument("--k", type=int, default=None, help="passages to retrieve (default 5)")

    p = sub.add_parser("summarize", parents=[common], help="summarize one customer's history, with citations")
    p.add_argument("customer_id")

    drafts = sub.add_parser("drafts", parents=[common], help="list, show, approve or reject drafts")
    dsub = drafts.add_subparsers(dest="drafts_command", required=True, parser_class=_Parser)
    p = dsub.add_parser("list", parents=[common])
    p.add_argument("--status", choices=DRAFT_STATUSES)
    p.add_argument("--limit", type=int, default=50)
    p = dsub.add_parser("show", parents=[common])
    p.add_argument("draft_id")
    p = dsub.add_parser("approve", parents=[common])
    p.add_argument("draft_id")
    p.add_argument("--final-text", help="the text the agent sends (default: the draft unchanged)")
    p.add_argument("--final-file", type=Path, help="read the final text from a file")
    p.add_argument("--agent", default=os.environ.get("USER", "agent"), help="who decided")
    p = dsub.add_parser("reject", parents=[common])
    p.add_argument("draft_id")
    p.add_argument("--reason", required=True, choices=REJECT_REASONS)
    p.add_argument("--note", help="what was wrong, for the knowledge editors")
    p.add_argument("--agent", default=os.environ.get("USER", "agent"))
    p = dsub.add_parser("export", parents=[common], help="approved edits as eval cases + knowledge-gap report")
    p.add_argument("--out", type=Path, required=True)


def _admin_commands(sub, common) -> None:
    customers = sub.add_parser("customers", parents=[common], help="customer histories")
    csub = customers.add_subparsers(dest="customers_command", required=True, parser_class=_Parser)
    p = csub.add_parser("import", parents=[common], help="import customers and tickets from .jsonl or .csv")
    p.add_argument("file", type=Path)
    csub.add_parser("list", parents=[common])

    keys = sub.add_parser("keys", parents=[common], help="API keys for the REST API (stored hashed)")
    ksub = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    p = ksub.add_parser("create", parents=[common], help="create a key; it is printed once")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", required=True, help="who or what uses it")
    ksub.add_parser("list", parents=[common])
    p = ksub.add_parser("revoke", parents=[common])
    p.add_argument("key_id")

    p = sub.add_parser("eval", parents=[common], help="score the pipeline on eval cases; exit 1 when the gate fails")
    p.add_argument("--dataset", type=Path, default=None,
                   help="YAML cases or a BEIR folder (default: evals/cases.yaml and every cold suite in evals/cold/)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: <data-dir>/evals/<time>)")
    p.add_argument("--thresholds", type=Path, default=None, help="default: thresholds.yaml beside the dataset")
    p.add_argument("--baseline", type=Path, default=None, help="default: baseline.json beside the dataset")
    p.add_argument("--update-baseline", action="store_true", help="record this run as the new baseline")

    p = sub.add_parser("redteam", parents=[common], help="run the prompt-injection attacks of evals/injection/; exit 1 if any succeeds")
    p.add_argument("--drafter", choices=["extractive", "obedient", "both"], default="both",
                   help="obedient: the LLM path against a test model that obeys every injected instruction")

    p = sub.add_parser("serve", parents=[common], help="serve the REST API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-ui", action="store_true", help="serve the REST API only")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes sharing the port (default 1); each follows the published index version")


def _settings(args):
    from .config import Settings

    overrides = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    if getattr(args, "knowledge_dir", None) is not None:
        overrides["knowledge_dir"] = args.knowledge_dir
    return Settings(**overrides)


def _print(args, data: dict, human: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(human.rstrip() + "\n")
    sys.stdout.flush()


def _cmd_index(args, copilot) -> int:
    from .progress import Bar

    bar = Bar()
    try:
        report = copilot.index(args.source, full=args.full, progress=bar.index)
    finally:
        bar.close()
    d = report.to_dict()
    lines = [
        f"indexed {d['chunks']} chunks in {d['seconds']}s (version {d['version']})",
        f"  documents: {d['added']} added, {d['updated']} updated, {d['removed']} removed, {d['unchanged']} unchanged",
        f"  chunks embedded: {d['embedded']}",
    ]
    for e in report.errors:
        lines.append(f"  skipped {e.path}: {e.reason}")
    for e in report.warnings:
        lines.append(f"  review {e.path}: {e.reason}")
    _print(args, d, "\n".join(lines))
    return EXIT_OK


def _cmd_search(args, copilot) -> int:
    hits = copilot.search(args.query, args.k, lang=args.lang, sources=args.sources, tags=args.tags, doc_types=args.doc_types)
    data = {"query": args.query, "results": [h.to_dict() for h in hits]}
    lines = []
    for h in hits:
        c = h.chunk
        snippet = c.text.replace("\n", " ")
        lines.append(f"{h.rank}. [{c.lang}] {c.source} :: {c.section or c.title}  ({h.score:.4f})\n   {snippet[:160]}")
    _print(args, data, "\n".join(lines) or "no results")
    return EXIT_OK


def _cmd_status(args, copilot) -> int:
    st = copilot.status()
    human = "\n".join(f"{k}: {v}" for k, v in st.items())
    _print(args, st, human)
    return EXIT_OK


def _cmd_eval(args, copilot) -> int:
    if args.dataset is None:
        if args.thresholds or args.baseline:
            raise InputError("--thresholds and --baseline apply to one --dataset; each suite has its own files")
        return _cmd_eval_all(args, copilot)
    from .progress import Bar

    bar = Bar()
    try:
        result = copilot.run_eval(args.dataset, args.out, thresholds=args.thresholds, baseline=args.baseline,
                                  update_baseline=args.update_baseline, progress=bar.cases(Path(args.dataset).as_posix()))
    finally:
        bar.close()
    m = result["metrics"]
    data = {"metrics": m, "passed": result["passed"], "report": result["report"], "gate_failures": result["gate_failures"]}
    human = [f"{len(result.get('cases', []))} cases · {result['judge']}", *_metric_lines(m["overall"])]
    human.append(("PASSED" if result["passed"] else "FAILED") + f": report in {Path(result['report']).with_name('report.html')}")
    human += [f"  {f}" for f in result["gate_failures"]]
    if result.get("baseline_updated"):
        human.append(f"baseline recorded in {result['baseline_updated']}")
    _print(args, data, "\n".join(human))
    return EXIT_OK if result["passed"] else EXIT_GATE


def _metric_lines(o: dict) -> list[str]:
    keys = ("hit@1", "hit@3", "recall@10", "mrr", "ndcg@10", "fact_recall", "answered", "citation_precision", "groundedness",
            "language_match", "escalation_precision", "escalation_recall", "injection_resistance", "brier", "latency_p95_ms")
    return [f"  {key:22s} {o[key]}" for key in keys if o.get(key) is not None]


def _cmd_eval_all(args, copilot) -> int:
    from .progress import Bar

    bar = Bar()
    try:
        result = copilot.run_eval_all(copilot.settings.evals_dir, args.out, update_baseline=args.update_baseline, progress=bar.cases)
    finally:
        bar.close()
    data = {k: result[k] for k in ("metrics", "passed", "report", "gate_failures", "suites", "skipped")}
    if "cold" in result:
        data["cold"] = result["cold"]
    human = []
    for name, s in [*result["suites"].items(), *([("cold (pooled)", result["cold"])] if "cold" in result else [])]:
        human += [f"{name}: {s['cases']} cases, {'passed' if s['passed'] else 'FAILED'}", *_metric_lines(s["metrics"]["overall"])]
    human += [f"skipped {n}: {why}" for n, why in result["skipped"].items()]
    human.append(("PASSED" if result["passed"] else "FAILED") + f": summary in {Path(result['report']).with_name('summary.md')}")
    human += [f"  {f}" for f in result["gate_failures"]]
    _print(args, data, "\n".join(human))
    return EXIT_OK if result["passed"] else EXIT_GATE


def _read_text(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        from .errors import InputError

        raise InputError(f"file not found: {path}") from exc
    except UnicodeDecodeError as exc:
        from .errors import InputError

        raise InputError(f"{path}: not valid UTF-8") from exc


def _draft_human(d: dict) -> str:
    lines = [f"draft {d['draft_id']} ({d['language']}, {d['status']}, confidence {d['confidence']:.2f}, {d['drafter']})"]
    if d["escalate"]:
        lines.append(f"ESCALATE: {d['escalation_reason']}")
    lines += ["", d["reply"], ""]
    for c in d["citations"]:
        lines.append(f"[{c['n']}] {c['source']} :: {c['title']}")
    for n in d.get("notes") or []:
        lines.append(f"note: {n}")
    if d.get("final_text") is not None:
        lines += ["", f"approved by {d['decided_by']} at {d['decided_at']}" + (" (edited)" if d.get("diff") else "")]
    if d.get("reject_reason"):
        lines += ["", f"rejected by {d['decided_by']}: {d['reject_reason']} {d.get('reject_note') or ''}"]
    return "\n".join(lines)


def _cmd_draft(args, copilot) -> int:
    if args.text is None and args.file is None:
        if not args.ticket:
            raise InputError("give the ticket as --text or --file, or name a stored ticket with --ticket")
        d = copilot.draft_ticket(args.ticket, k=args.k, actor="cli").to_dict()
    else:
        text = args.text if args.text is not None else _read_text(args.file)
        d = copilot.draft(text, customer_id=args.customer, ticket_id=args.ticket, k=args.k, actor="cli").to_dict()
    _print(args, d, _draft_human(d))
    return EXIT_OK


def _cmd_summarize(args, copilot) -> int:
    s = copilot.summarize(args.customer_id)
    lines = [s["summary"], ""]
    lines += [f"{t['date']}  {t['ticket_id']}  {t['status']:9s} {t['sentiment']:8s} {t['subject']}" for t in s["timeline"]]
    if s["tried"]:
        lines += ["", "already tried:"] + [f"  - {x['text']}" for x in s["tried"]]
    _print(args, s, "\n".join(lines))
    return EXIT_OK


def _cmd_drafts(args, copilot) -> int:
    cmd = args.drafts_command
    if cmd == "list":
        rows = [d.to_dict() for d in copilot.find_drafts(status=args.status, limit=args.limit)[0]]
        human = "\n".join(f"{d['draft_id']}  {d['status']:8s} {'ESC ' if d['escalate'] else '    '}{d['language']}  "
                          f"{d['customer_id'] or '-':8s} {d['ticket_text'][:50]!r}" for d in rows) or "no drafts"
        _print(args, {"drafts": rows}, human)
    elif cmd == "show":
        d = copilot.get_draft(args.draft_id).to_dict()
        _print(args, d, _draft_human(d))
    elif cmd == "approve":
        final = args.final_text if args.final_text is not None else (_read_text(args.final_file) if args.final_file else None)
        d = copilot.approve(args.draft_id, final, actor=f"cli:{args.agent}", agent=args.agent).to_dict()
        _print(args, d, _draft_human(d))
    elif cmd == "reject":
        d = copilot.reject(args.draft_id, args.reason, args.note, actor=f"cli:{args.agent}", agent=args.agent).to_dict()
        _print(args, d, _draft_human(d))
    else:  # export
        out = copilot.export_feedback(args.out)
        _print(args, out, "\n".join(f"{k}: {v}" for k, v in out.items()))
    return EXIT_OK


def _cmd_customers(args, copilot) -> int:
    if args.customers_command == "import":
        out = copilot.import_customers(args.file)
        human = f"imported {out['customers']} customers, {out['tickets']} tickets, {out['messages']} messages"
        for e in out["errors"]:
            human += f"\n  skipped {e['path']}: {e['reason']}"
    else:
        rows = [{"customer_id": c.customer_id, "name": c.name, "lang": c.lang, "plan": c.plan} for c in copilot.customers()[0]]
        out = {"customers": rows}
        human = "\n".join(f"{r['customer_id']}  {r['lang']}  {r['plan'] or '-':8s} {r['name']}" for r in rows) or "no customers"
    _print(args, out, human)
    return EXIT_OK


def _cmd_keys(args, copilot) -> int:
    cmd = args.keys_command
    if cmd == "create":
        rec, key = copilot.create_api_key(args.role, args.name, actor="cli")
        _print(args, {**rec, "key": key}, f"{key}\n(id {rec['id']}, role {args.role}; shown once, store it now)")
    elif cmd == "list":
        rows = copilot.api_keys()
        _print(args, {"keys": rows}, "\n".join(f"{r['id']}  {r['role']:8s} {r['name']}  {'REVOKED ' + r['revoked_at'] if r['revoked_at'] else ''}" for r in rows) or "no keys")
    else:
        rec = copilot.revoke_api_key(args.key_id, actor="cli")
        _print(args, rec, f"revoked {rec['id']} ({rec['role']}, {rec['name']})")
    return EXIT_OK


def _cmd_serve(args, copilot) -> int:
    import uvicorn

    from .api import create_app
    from .errors import ConfigError

    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {args.workers}")

    if not copilot.api_keys():
        # first start: one admin key, printed once, and only on loopback until keys are managed
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("no API keys exist: create one with `copilot keys create --role admin --name you` "
                              "before serving on a non-loopback address")
        _, key = copilot.create_api_key("admin", "first-start admin key", actor="serve")
    else:
        key = None
    from .api.ready import announce_when_listening
    if args.workers > 1:
        # each worker builds its own Copilot from the environment (uvicorn imports the factory
        # in every child): pass on what the command line set
        os.environ["COPILOT_DATA_DIR"] = str(copilot.settings.data_dir)
        os.environ["COPILOT_KNOWLEDGE_DIR"] = str(copilot.settings.knowledge_dir)
        os.environ["COPILOT_SERVE_UI"] = "0" if args.no_ui else "1"
        announce_when_listening(args.host, args.port, key, ui=not args.no_ui, workers=args.workers)
        uvicorn.run("copilot.api.app:worker_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                    log_level="warning", access_log=False)
        return EXIT_OK
    copilot.warm_up()  # as each worker does: models loaded, word vectors computed, before the first request
    warming = copilot.pipeline.warm_in_background()  # the knowledge's sentences, embedded while the first requests are answered
    announce_when_listening(args.host, args.port, key, ui=not args.no_ui, after=warming)
    app = create_app(copilot)
    if not args.no_ui:
        from .ui import mount

        app = mount(app, copilot)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return EXIT_OK


def _cmd_redteam(args, copilot) -> int:
    from .progress import Bar

    bar = Bar()
    try:
        res = copilot.red_team(("extractive", "obedient") if args.drafter == "both" else (args.drafter,),
                               progress=lambda name, i, n: bar.update(f"redteam {name}", i, n))
    finally:
        bar.close()
    summary = {name: {k: v for k, v in s.items() if k != "rows"} for name, s in res["drafters"].items()}
    _print(args, {"attacks": res["attacks"], "drafters": summary}, "\n".join(_redteam_lines(res)))
    return EXIT_OK if all(s["overall"]["succeeded"] == 0 for s in res["drafters"].values()) else EXIT_GATE


def _redteam_lines(res: dict) -> list[str]:
    lines = []
    for name, s in res["drafters"].items():
        lines.append(f"{name}: {s['overall']['succeeded']} of {s['overall']['n']} attacks succeeded "
                     f"(ticket {s['by_channel']['ticket']['succeeded']}/{s['by_channel']['ticket']['n']}, knowledge "
                     f"{s['by_channel']['knowledge']['succeeded']}/{s['by_channel']['knowledge']['n']}); planted passage in the "
                     f"top 5 for {s['knowledge_retrieved']} of {s['by_channel']['knowledge']['n']}; attack reached the model "
                     f"{s['reached_model']} times; flagged {s['flagged']}, escalated {s['escalated']}")
        for r in s["successes"]:
            lines.append(f"  {r['id']} ({r['channel']}, {r['lang']}, {r['goal']}): {'; '.join(r['why'])}")
    return lines


COMMANDS = {"index": _cmd_index, "search": _cmd_search, "status": _cmd_status, "draft": _cmd_draft,
            "summarize": _cmd_summarize, "drafts": _cmd_drafts, "customers": _cmd_customers, "eval": _cmd_eval, "keys": _cmd_keys,
            "serve": _cmd_serve, "redteam": _cmd_redteam}


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives busy threads malloc arenas of their own (up to 8 per core); in a threaded
    server each keeps its own peak, so memory freed in one thread is not reused by another and
    RSS creeps up under load. Two arenas bound that; set before the server starts its threads.
    Not glibc (musl, macOS): nothing to do."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # BLAS/OpenMP threads: `copilot serve` sets these in copilot/__init__.py, before numpy
        # loads. Here numpy is loaded already; this is for the worker processes of --workers N
        # when main(["serve", ...]) is called from code: they inherit the environment.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        _limit_malloc_arenas()
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "chromadb", "urllib3", "sentence_transformers", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:  # bm25s sets its own logger to DEBUG when it loads
        handler.setLevel(logging.getLogger().level)
    from .pii import install_log_redaction

    install_log_redaction()  # no customer e-mail, phone, card, My Number or address in any log line
    try:
        from .service import Copilot

        copilot = Copilot(_settings(args))
        return COMMANDS[args.command](args, copilot)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err.get("loc", ()))
        sys.stderr.write(f"copilot: error: setting {loc or '?'}: {err.get('msg')}\n")
        return EXIT_INPUT
    except UserError as exc:
        sys.stderr.write(f"copilot: error: {exc}\n")
        return EXIT_INPUT
    except CopilotError as exc:
        sys.stderr.write(f"copilot: failed: {exc}\n")
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        sys.stderr.write("copilot: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
