"""Command line: ``python -m pipeline <command>`` (or ``evidence-pipeline <command>``).

Each command parses its arguments and calls one function, ``run`` :func:`pipeline.flow.run`
and the others those of :mod:`pipeline.commands`; errors are turned into ``Error: ...`` lines
and a non-zero exit here, and nowhere else.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

import pyarrow

from pipeline import __version__, commands, flow
from pipeline.exchange import refi
from pipeline.config.codebook import load_codebook
from pipeline.config.code_sheet import import_code_sheet, write_code_sheet
from pipeline.errors import InputError, PipelineError, Problem, group_problems
from pipeline.stages.privacy import POLICIES
from pipeline.config.scaffold import init_evaluation
from pipeline.stages.triangulate import RATINGS
from pipeline.runtime.progress import terminal_progress

DEFAULT_CODEBOOK = "codebook"
DEFAULT_TRANSCRIPTS = "transcripts_sample"
DEFAULT_OUT = "reports"

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def _evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--codebook", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR",
                        help=f"codebook folder with evaluation.yaml (default: {DEFAULT_CODEBOOK})")
    parser.add_argument("--transcripts", type=Path, default=Path(DEFAULT_TRANSCRIPTS), metavar="DIR",
                        help=f"transcripts folder with register.csv (default: {DEFAULT_TRANSCRIPTS})")
    parser.add_argument("--each-warning", action="store_true",
                        help="print every warning on its own line, not one line per kind of warning")


def _private_names_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--private-names", type=Path, metavar="FILE",
                        help="the team's file of participants' real names, one per line, kept outside the "
                             "repository (default: privacy.private_names in evaluation.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Evaluation transcripts in, coded evidence and triangulation out.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the whole pipeline on one evaluation",
                              description="Run every stage and write the outputs to --out.")
    _evaluation_arguments(run)
    run.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), metavar="DIR",
                     help=f"folder for the outputs (default: {DEFAULT_OUT})")
    run.add_argument("--privacy", choices=POLICIES, default=None,
                     help="what to do with identifying details found in the texts: block (stop, list them), "
                          "redact (replace them by placeholders), off (no scan; every report says so). "
                          "Default: privacy.policy in evaluation.yaml, else block")
    _private_names_argument(run)
    run.add_argument("--force", action="store_true",
                     help="run every stage even if nothing changed since the run that wrote --out")

    scan = commands.add_parser("privacy-scan", help="scan the texts for identifying details, write the findings",
                               description="Scan every text an output could contain (transcripts, register notes, "
                                           "coders' memos and quotes) for names, DNI and phone numbers, emails, "
                                           "addresses and URLs; write where each is and its kind (never the text) "
                                           "as CSV. Exits with 1 if anything is found.")
    _evaluation_arguments(scan)
    scan.add_argument("--out", type=Path, default=Path(DEFAULT_OUT) / "privacy_findings.csv", metavar="FILE.csv",
                      help=f"the findings (default: {DEFAULT_OUT}/privacy_findings.csv)")
    _private_names_argument(scan)

    init = commands.add_parser("init", help="scaffold a new evaluation in DIR",
                               description="Write DIR/codebook/ and DIR/transcripts/ for a new evaluation.")
    init.add_argument("folder", type=Path, metavar="DIR")

    codebook = commands.add_parser("codebook", help="render, import or export the codebook",
                                   description="Work with the codebook.")
    actions = codebook.add_subparsers(dest="action", metavar="ACTION", required=True)
    render = actions.add_parser("render", help="write the codebook manual for coders (HTML and Markdown)")
    render.add_argument("--codebook", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR")
    render.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), metavar="DIR")
    for kind in ("xlsx", "csv"):
        sheet = actions.add_parser(f"import-{kind}", help=f"turn a .{kind} sheet (one row per code) into a code file")
        sheet.add_argument("sheet", type=Path, metavar=f"SHEET.{kind}")
        sheet.add_argument("--into", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR",
                           help="the codebook folder to write the code file into")
    import_qdc = actions.add_parser("import-qdc", help="turn a REFI-QDA code book (.qdc) into a code file")
    import_qdc.add_argument("file", type=Path, metavar="FILE.qdc")
    import_qdc.add_argument("--into", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR",
                            help="the codebook folder to write the code file into")
    export = actions.add_parser("export", help="write the codes as a sheet (.xlsx or .csv), one row per code")
    export.add_argument("--codebook", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")

    coding = commands.add_parser("coding", help="import human coding (CSV or XLSX)",
                                 description="Work with human coding.")
    coding_actions = coding.add_subparsers(dest="action", metavar="ACTION", required=True)
    place = coding_actions.add_parser("import", help="place a coding file's quotes or spans on the transcripts")
    place.add_argument("files", type=Path, nargs="+", metavar="FILE")
    _evaluation_arguments(place)
    place.add_argument("--out", type=Path, default=Path(DEFAULT_OUT) / "coding_import", metavar="DIR",
                       help="folder for the placed codings and the unplaced quotes")

    judge = commands.add_parser("evaluate-coder", help="measure rules and model against human coding",
                                description="Cross-validated (grouped by session) precision, recall, F1 and "
                                            "Krippendorff's alpha of the rules, the model and a TF-IDF baseline.")
    _evaluation_arguments(judge)
    judge.add_argument("--coding", type=Path, nargs="+", required=True, metavar="FILE")
    judge.add_argument("--folds", type=int, default=5)
    judge.add_argument("--learning-curve", action="store_true",
                       help="also measure the model against the number of human-coded sessions it learns from")
    judge.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    judge.add_argument("--cache", type=Path, default=Path(DEFAULT_OUT) / ".cache" / "docs", metavar="DIR",
                       help="where parsed documents are cached")

    agree = commands.add_parser("reliability", help="agreement between human coders",
                                description="Percent agreement, Cohen's kappa and Krippendorff's alpha per code, "
                                            "per question and overall; writes reliability.html and .json.")
    _evaluation_arguments(agree)
    agree.add_argument("--coding", type=Path, nargs="+", required=True, metavar="FILE")
    agree.add_argument("--coders", help="the coders to compare, e.g. A,B (default: all)")
    agree.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    agree.add_argument("--machine", type=Path, metavar="JSON", help="evaluate-coder figures to show beside")
    agree.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), metavar="DIR")
    agree.add_argument("--cache", type=Path, default=Path(DEFAULT_OUT) / ".cache" / "docs", metavar="DIR")

    qdpx = commands.add_parser("export-qdpx", help="write the evaluation of a finished run as a REFI-QDA project",
                               description="Export the transcripts, codebook, register metadata and accepted codings "
                                           "of a finished run (the interim tables under --reports) as a REFI-QDA "
                                           "project (.qdpx) for NVivo, ATLAS.ti, MAXQDA or QualCoder. Runs nothing.")
    _evaluation_arguments(qdpx)
    qdpx.add_argument("--reports", type=Path, default=Path(DEFAULT_OUT), metavar="DIR",
                      help=f"the run's output folder whose interim/ tables are exported (default: {DEFAULT_OUT})")
    qdpx.add_argument("--out", type=Path, required=True, metavar="FILE.qdpx")

    qdc = commands.add_parser("export-qdc", help="write the codebook as a REFI-QDA code book (.qdc)",
                              description="Write the codes (nested, definitions as descriptions) as a REFI-QDA "
                                          "code book.")
    qdc.add_argument("--codebook", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR")
    qdc.add_argument("--out", type=Path, required=True, metavar="FILE.qdc")

    imported = commands.add_parser("import-qdpx", help="turn a REFI-QDA project from another tool into an evaluation",
                                   description="Write DIR/codebook/ and DIR/transcripts/ (texts, register stub, "
                                               "codings in the human-coding format) from a .qdpx; prints how each "
                                               "source counted positions.")
    imported.add_argument("file", type=Path, metavar="FILE.qdpx")
    imported.add_argument("--out", type=Path, required=True, metavar="DIR")

    findings = commands.add_parser("findings", help="check the team's findings against the evidence",
                                   description="Work with the findings file (findings.yaml in the codebook folder).")
    findings_actions = findings.add_subparsers(dest="action", metavar="ACTION", required=True)
    claims = findings_actions.add_parser(
        "check", help="check findings.yaml against a finished run; write findings.html and the annex",
        description="Check each finding, lesson and good practice of findings.yaml against the evidence of the "
                    "finished run in --out (its support, leaning, citations and groups; orphans across the file), "
                    "print each problem as a warning, and write findings.html, findings_annex.md and "
                    "findings_annex.docx there. Runs no stage: run the pipeline first.")
    _evaluation_arguments(claims)
    claims.add_argument("--out", type=Path, default=Path(DEFAULT_OUT), metavar="DIR",
                        help=f"the run's output folder, where the findings reports are written (default: {DEFAULT_OUT})")
    claims.add_argument("--strict", action="store_true",
                        help="every problem found is an error (exit 1, nothing written)")

    check = commands.add_parser("validate", help="check the codebook, register and transcripts",
                                description="Check the codebook, the register and every transcript "
                                            "without running the rest; report every problem found.")
    _evaluation_arguments(check)
    check.add_argument("--patterns", action="store_true",
                       help="also list what each lemma phrase matches on, lemmatised as the texts are")
    return parser


# What to do about an operating system's refusal, by its error number.
_FULL = "The disk is full: free some space (or choose a folder on another disk) and run again."
_DENIED = ("It may not be written (or read) by you, or another program holds it open (a spreadsheet or a "
           "document: close it): check its permissions, or choose another folder.")
_OS_FIXES = {getattr(errno, name): fix for name, fix in (
    ("ENOSPC", _FULL),
    ("EDQUOT", "Your disk quota is used up: free some space (or choose a folder on another disk) and run again."),
    ("EROFS", "It is on a read-only disk: choose a folder on a writable one."),
    ("EACCES", _DENIED),
    ("EPERM", _DENIED),
    ("EBUSY", "Another program holds it: close it and run again."),
    ("ETXTBSY", "Another program holds it: close it and run again."),
    ("ENOTDIR", "A part of that path is a file, not a folder: correct the path."),
    ("EISDIR", "It is a folder where a file is expected: correct the path."),
    ("ENOENT", "It does not exist: correct the path."),
    ("EEXIST", "It exists already: move it away, or choose another path."),
    ("ENAMETOOLONG", "The path is too long: choose a shorter one."),
    ("EMFILE", "Too many files are open: close other programs and run again."),
    ("EIO", "The disk could not be read or written: check it, or choose another folder."),
) if hasattr(errno, name)}  # not every platform has every number


def _os_error(exc: OSError, args: argparse.Namespace) -> str:
    """One line for an operating system's error: the path, what happened, what to do. Libraries
    (pyarrow) raise some without an error number or a path: the number is then found by its
    words, and the path is the command's output."""
    code = exc.errno if exc.errno in _OS_FIXES else next(
        (number for number in _OS_FIXES if os.strerror(number) in str(exc)), None)
    path = exc.filename or getattr(args, "out", None) or ""
    reason = exc.strerror or str(exc).strip() or type(exc).__name__
    fix = _OS_FIXES.get(code, "Check the path, its permissions and the free space on its disk, then run again.")
    text = f"{path}: {reason}. {fix}" if path else f"{reason}. {fix}"
    if args.command == "run":
        text += " Earlier outputs are unchanged."
    return " ".join(text.split())  # one line, whatever the library's message held


def _print_warnings(result: commands.Result | InputError, args: argparse.Namespace) -> None:
    """One line per kind of warning, naming the files it concerns and the fix, or with
    ``--each-warning`` one line per warning."""
    if getattr(args, "each_warning", False):
        for problem in result.warnings:
            print(f"Warning: {problem}", file=sys.stderr)
        return
    groups = group_problems(result.warnings)
    for group in groups:
        print(f"Warning: {group}", file=sys.stderr)
    if any(len(group.problems) > 1 for group in groups):
        kept = f" and {args.out}/manifest.json keeps each" if args.command == "run" and isinstance(
            result, commands.Result) else ""
        print(f"(Warnings of one kind are shown together: --each-warning prints each{kept}.)", file=sys.stderr)


def _summary(result: commands.Result) -> str:
    c = result.counts
    lines = [f"  sessions      {c['sessions']} ({c['participants']} participants)",
             f"  turns         {c['turns']} ({c['respondent_turns']} respondent turns)"]
    if "segments" in c:
        lines.append(f"  segments      {c['segments']} ({c['words']} words of respondent speech)")
    if "codings" in c:
        by_source = ", ".join(f"{k} {v}" for k, v in sorted(c["codings_by_source"].items()))
        lines.append(f"  codings       {c['codings']} ({by_source}); {c['coded_segments']} segments with accepted codes")
    if c.get("human_coding", {}).get("codings"):
        lines.append(f"  human coding  {_placement(c['human_coding'])}")
    if "ratings" in c:
        lines.append("  questions     " + ", ".join(f"{c['ratings'].get(r, 0)} {r}" for r in RATINGS))
    if "findings" in c:
        lines.append(f"  findings      {c['findings']['claims']} findings, lessons and practices checked; "
                     f"{c['findings']['problems']} problem(s)")
    lines.append(f"  warnings      {len(result.warnings)}")
    if result.out is not None:
        lines.append(f"  outputs       {result.out}/ ({', '.join(n for n in result.outputs if '/' not in n)}, "
                     f"interim/)")
    return "\n".join(lines)


def _placement(c: dict) -> str:
    """How human coding was placed (:func:`pipeline.stages.coding.human.placement_counts`), in a line."""
    unplaced = sum(c["unplaced"].values())
    how = [f"{c['respondent']} on respondent turns"]
    how += [f"{c['context']} on interviewer turns, as context"] if c["context"] else []
    how += [f"{c['split']} split across turns ({c['respondent_parts']} respondent and {c['context_parts']} context "
            f"parts in all)"] if c["split"] else []
    return (f"{c['placed']} of {c['codings']} codings ({', '.join(how)}); {unplaced} could not be placed"
            + (f" ({', '.join(f'{n} {reason}' for reason, n in c['unplaced'].items())})" if unplaced else ""))


def _figures_table(figures: dict) -> str:
    grouped = ("grouped by session" if figures.get("held_out", "session") == "session" else
               "of segments (people coded one session only: no session to hold out)")
    lines = [f"{figures['segments']} segments, {len(figures['codes_evaluated'])} codes, {figures['folds']} folds "
             f"{grouped}", "", f"{'':10}{'micro P':>9}{'R':>7}{'F1':>7}{'macro P':>10}{'R':>7}{'F1':>7}"]
    for source in ("rules", "model", "baseline"):
        micro, macro = figures[source]["micro"], figures[source]["macro"]
        lines.append(f"{source:10}{micro['precision']:9.3f}{micro['recall']:7.3f}{micro['f1']:7.3f}"
                     f"{macro['precision']:10.3f}{macro['recall']:7.3f}{macro['f1']:7.3f}")
    lines += ["", f"{'code':34}{'n':>5}{'rules F1':>10}{'model F1':>10}{'base F1':>9}{'model a':>9}"]
    for code in figures["codes_evaluated"]:
        rule, model, base = (figures[s]["per_code"][code] for s in ("rules", "model", "baseline"))
        shown = "-" if model["alpha"] is None else f"{model['alpha']:.2f}"
        lines.append(f"{code:34}{model['support']:5}{rule['f1']:10.2f}{model['f1']:10.2f}{base['f1']:9.2f}{shown:>9}")
    if figures.get("learning_curve"):
        lines += ["", "the model against the number of human-coded sessions it learned from (same test folds):",
                  f"{'sessions':>9}{'segments':>10}{'micro P':>9}{'R':>7}{'F1':>7}"]
        for point in figures["learning_curve"]:
            lines.append(f"{point['sessions']:9}{point['segments']:10}{point['precision']:9.3f}{point['recall']:7.3f}"
                         f"{point['f1']:7.3f}")
    queue = figures.get("queue_simulation")
    if queue:
        lines += ["", f"the review queue simulated: {queue['pool']} segments to decide after the first coded sessions (per fold), "
                      "micro F1 after each batch:", f"{'decided':>9}{'queue':>8}{'random':>8}"]
        for ours, chance in zip(queue["queue"], queue["random"]):
            lines.append(f"{ours['decided']:9}{ours['f1']:8.3f}{chance['f1']:8.3f}")
        said = {name: "never" if queue[f"{name}_reaches_it_with"] is None else f"after {queue[f'{name}_reaches_it_with']}"
                for name in ("queue", "random")}
        lines.append(f"F1 {queue['target_f1']:.3f} (90% of the final): the queue's order {said['queue']} decisions, "
                     f"random order {said['random']}")
    patterns = figures.get("patterns", [])
    if patterns:
        settings = figures.get("rules_settings", {})
        lines += ["", f"each pattern in the sessions people coded, worst first (demoted: precision below "
                      f"{settings.get('min_precision')} with at least {settings.get('min_hits')} hits):",
                  f"{'code':34}{'pattern':28}{'hits':>6}{'agreed':>8}{'unconf.':>8}{'precision':>10}"]
        for row in patterns:
            lines.append(f"{row['code']:34}{row['pattern']:28}{row['hits']:6}{row['agreed']:8}{row['unconfirmed']:8}"
                         f"{row['precision']:10.2f}{'  demoted' if row['demoted'] else ''}")
    stance = figures.get("stance", {})
    if "learned" in stance:
        lines += ["", f"stance of {stance['passages']} coded passages ({stance['sessions']} sessions), against the coders:",
                  f"{'':16}{'accuracy':>9}{'macro F1':>10}"]
        for name in ("learned", "lexicon", "majority_class"):
            lines.append(f"{name:16}{stance[name]['accuracy']:9.3f}{stance[name]['macro_f1']:10.3f}")
    elif stance:
        lines += ["", f"stance: {stance['note']} ({stance['passages']} passages)."]
    return "\n".join(lines)


def _codebook(args: argparse.Namespace) -> int:
    if args.action == "render":
        result = commands.render_codebook(args.codebook, args.out)
        print(f"Wrote the codebook manual ({result.counts['codes']} codes) to "
              f"{', '.join(str(args.out / n) for n in result.outputs)}.")
    elif args.action == "import-qdc":
        target = refi.import_qdc(args.file, args.into)
        print(f"Wrote {target}. Complete its TODOs, then run `python -m pipeline validate`.")
    elif args.action == "export":
        if args.out.suffix.lower() not in (".xlsx", ".csv"):
            raise InputError(Problem(str(args.out), "must end in .xlsx or .csv.", "Choose the sheet's format."))
        write_code_sheet(load_codebook(args.codebook), args.out)
        print(f"Wrote {args.out}.")
    else:
        kind = args.action.removeprefix("import-")
        if args.sheet.suffix.lower() != f".{kind}":
            raise InputError(Problem(str(args.sheet), f"is not a .{kind} file.",
                                     f"Use `codebook import-{'csv' if kind == 'xlsx' else 'xlsx'}` for it."))
        target = import_code_sheet(args.sheet, args.into)
        print(f"Wrote {target}. Run `python -m pipeline validate` to check the codebook as a whole.")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    # A setting of the whole process, so made here, where the process starts: Arrow's own
    # allocator (mimalloc) keeps what the string columns of freed tables took; the system's
    # gives it back (78 MB less at the peak of a run on 10x the sample).
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    progress = terminal_progress()
    try:
        if args.command == "run":
            result = flow.run(args.codebook, args.transcripts, args.out, progress=progress,
                              privacy_policy=args.privacy, private_names=args.private_names, force=args.force)
            _print_warnings(result, args)
            if result.up_to_date:
                print(f"Nothing changed since the run that wrote {args.out}/: its outputs are up to date "
                      f"(--force runs every stage again).\n{_summary(result)}")
            else:
                print(f"Run complete.\n{_summary(result)}")
        elif args.command == "privacy-scan":
            result = commands.privacy_scan(args.codebook, args.transcripts, args.out,
                                           private_names=args.private_names, progress=progress)
            _print_warnings(result, args)
            for problem in result.details:
                print(f"Found: {problem}")
            c = result.counts
            kinds = ", ".join(f"{kind} {n}" for kind, n in c["by_kind"].items()) or "nothing"
            print(f"Scanned {c['texts']} texts of {c['sessions']} sessions: {c['findings']} finding(s) ({kinds}). "
                  f"Wrote {args.out}.")
            return EXIT_INPUT if c["findings"] else EXIT_OK
        elif args.command == "init":
            written = init_evaluation(args.folder)
            print(f"Wrote {len(written)} files under {args.folder}/. Fill them in, then run:\n"
                  f"  python -m pipeline validate --codebook {args.folder}/codebook "
                  f"--transcripts {args.folder}/transcripts")
        elif args.command == "codebook":
            return _codebook(args)
        elif args.command == "coding":
            result = commands.import_coding(args.codebook, args.transcripts, args.files, args.out)
            _print_warnings(result, args)
            print(f"Placed {_placement(result.counts)}. "
                  f"Wrote {', '.join(str(args.out / n) for n in result.outputs)}.")
        elif args.command == "reliability":
            coders = [c.strip() for c in args.coders.split(",")] if args.coders else None
            found: list = []
            with commands.collect_warnings(found):
                figures = commands.reliability(args.codebook, args.transcripts, args.coding, coders=coders,
                                               out_dir=args.out, machine=args.machine, cache_dir=args.cache)
            _print_warnings(commands.Result(counts={}, warnings=tuple(found)), args)
            overall = figures["overall"]
            print(f"Coders {', '.join(figures['coders'])} on {len(figures['sessions'])} sessions: alpha "
                  f"{overall['alpha']}, kappa {overall['kappa']}, agreement {overall['agreement']} over "
                  f"{overall['units']} units x codes. Wrote {args.out / 'reliability.html'}.")
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(figures, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
        elif args.command == "evaluate-coder":
            found = []
            with commands.collect_warnings(found):
                figures = commands.evaluate(args.codebook, args.transcripts, args.coding, folds=args.folds,
                                            cache_dir=args.cache, learning_curve=args.learning_curve)
            _print_warnings(commands.Result(counts={}, warnings=tuple(found)), args)
            print(_figures_table(figures))
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        elif args.command == "export-qdpx":
            path = refi.export_qdpx(args.codebook, args.reports, args.out, transcripts_dir=args.transcripts)
            print(f"Wrote {path}.")
        elif args.command == "export-qdc":
            print(f"Wrote {refi.write_qdc(load_codebook(args.codebook), args.out)}.")
        elif args.command == "import-qdpx":
            report = refi.import_qdpx(args.file, args.out)
            print(report.summary())
            print(f"Next: complete {args.out / 'transcripts' / 'register.csv'} and the TODOs, then run "
                  f"`python -m pipeline validate --codebook {args.out}/codebook --transcripts {args.out}/transcripts`.")
        elif args.command == "findings":
            result = commands.findings_check(args.codebook, args.transcripts, args.out, strict=args.strict)
            _print_warnings(result, args)
            print(f"Checked {result.counts['claims']} findings, lessons and practices: {result.counts['problems']} "
                  f"problem(s). Wrote {', '.join(str(args.out / n) for n in result.outputs)}.")
        elif args.command == "validate":
            result = commands.validate(args.codebook, args.transcripts, patterns=args.patterns)
            _print_warnings(result, args)
            print(f"No problems found.\n{_summary(result)}")
            if args.patterns:
                print("What each lemma phrase matches on (folded lemmas; a one-word phrase, the word as written too):")
                for language, code, phrase, on in result.phrases:
                    print(f"  {language}  {code}  '{phrase}': {', or '.join(on)}")
    except InputError as exc:
        _print_warnings(exc, args)
        for problem in exc.problems:
            print(f"Error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        written = (" Nothing was written; earlier outputs are unchanged." if args.command in ("run", "findings")
                   else "")
        print(f"{count} problem{'s' if count != 1 else ''} found.{written}", file=sys.stderr)
        return EXIT_INPUT
    except PipelineError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # a full disk, a read-only folder, a locked file: never a traceback
        print(f"Error: {_os_error(exc, args)}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK
