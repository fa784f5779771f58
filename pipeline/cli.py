"""Command line: ``python -m pipeline <command>`` (or ``evidence-pipeline <command>``).

Each command parses its arguments and calls one function of :mod:`pipeline.flow`; errors
are turned into ``Error: ...`` lines and a non-zero exit here, and nowhere else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline import __version__, flow
from pipeline.errors import InputError, PipelineError
from pipeline.progress import terminal_progress

DEFAULT_CODEBOOK = "codebook"
DEFAULT_TRANSCRIPTS = "transcripts_sample"
DEFAULT_OUT = "reports"

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def _evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--codebook", type=Path, default=Path(DEFAULT_CODEBOOK), metavar="DIR",
                        help=f"codebook folder with evaluation.yaml (default: {DEFAULT_CODEBOOK})")
    parser.add_argument("--transcripts", type=Path, default=Path(DEFAULT_TRANSCRIPTS), metavar="DIR",
                        help=f"transcripts folder with register.csv (default: {DEFAULT_TRANSCRIPTS})")


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

    check = commands.add_parser("validate", help="check the codebook, register and transcripts",
                                description="Check the codebook, the register and every transcript "
                                            "without running the rest; report every problem found.")
    _evaluation_arguments(check)
    return parser


def _print_warnings(result: flow.Result) -> None:
    for problem in result.warnings:
        print(f"Warning: {problem}", file=sys.stderr)


def _summary(result: flow.Result) -> str:
    c = result.counts
    lines = [f"  sessions      {c['sessions']} ({c['participants']} participants)",
             f"  turns         {c['turns']} ({c['respondent_turns']} respondent turns)"]
    if "segments" in c:
        lines.append(f"  segments      {c['segments']} ({c['words']} words of respondent speech)")
    lines.append(f"  warnings      {len(result.warnings)}")
    if result.out is not None:
        lines.append(f"  outputs       {result.out}/ ({', '.join(n for n in result.outputs if '/' not in n)}, "
                     f"interim/)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    progress = terminal_progress()
    try:
        if args.command == "run":
            result = flow.run(args.codebook, args.transcripts, args.out, progress=progress)
            _print_warnings(result)
            print(f"Run complete.\n{_summary(result)}")
        elif args.command == "validate":
            result = flow.validate(args.codebook, args.transcripts)
            _print_warnings(result)
            print(f"No problems found.\n{_summary(result)}")
    except InputError as exc:
        for problem in exc.warnings:
            print(f"Warning: {problem}", file=sys.stderr)
        for problem in exc.problems:
            print(f"Error: {problem}", file=sys.stderr)
        count = len(exc.problems)
        written = " Nothing was written; earlier outputs are unchanged." if args.command == "run" else ""
        print(f"{count} problem{'s' if count != 1 else ''} found.{written}", file=sys.stderr)
        return EXIT_INPUT
    except PipelineError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return EXIT_OK
