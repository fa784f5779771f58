"""The learned coder measured on other people's coded corpora (../shared/realdata/coded/).

Each corpus becomes what :func:`pipeline.analysis.evaluate.evaluate_coder` reads: a SEGMENTS-like
table (one row per coded answer or passage; ``session_id`` is what the folds are grouped by:
the participant of a survey, the article of a newspaper passage) and the human codings on it.
Nothing is copied into the repository; a corpus that is absent is skipped with a reason.

    python benchmarks/real_coded.py [--folds 5] [--json OUT] [--cache DIR]

prints one table across them (and the evaluation's own figures from evaluate-coder, given
``--sample``): per coder, micro and macro P/R/F1, Krippendorff's alpha, and the margin of the
model over the plain baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CODED = ROOT.parent / "shared" / "realdata" / "coded"

# corpus: (file, unit columns, session column, text column, code column)
CORPORA = {
    "shuffle_music": ("coded_long.csv", ["participant_id", "track_id"], "participant_id", "full_response_text",
                      "code_level3"),
    "osf_dubois": ("coded_long.csv", ["passage_id"], "url", "passage_text", "code"),
}


def corpus_path(name: str, root: Path = CODED) -> Path:
    return root / name / CORPORA[name][0]


def load_corpus(name: str, root: Path = CODED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(segments, codings) of corpus ``name``: segments with ``segment_id``, ``session_id``,
    ``text``, ``prompt`` (empty: one question for all), ``start``, ``end``; codings with
    ``segment_id``, ``session_id``, ``code``, ``source`` (``human``). Raises FileNotFoundError
    where the corpus is absent."""
    file, unit, session, text, code = CORPORA[name]
    rows = pd.read_csv(corpus_path(name, root), dtype=str, keep_default_na=False)
    rows = rows.assign(segment_id=rows[unit].agg("/".join, axis=1))
    segments = rows.drop_duplicates("segment_id")[["segment_id", session, text]].rename(
        columns={session: "session_id", text: "text"}).sort_values("segment_id", kind="stable").reset_index(drop=True)
    segments = segments.assign(prompt="", start=0, end=segments["text"].str.len())
    codings = rows[["segment_id", code]].rename(columns={code: "code"}).drop_duplicates()
    codings = codings.merge(segments[["segment_id", "session_id"]], on="segment_id").assign(source="human")
    return segments, codings.sort_values(["segment_id", "code"], kind="stable").reset_index(drop=True)


def measure(name: str, *, folds: int = 5, root: Path = CODED, cache: Path | None = None, **options) -> dict:
    """evaluate_coder's figures on corpus ``name`` (no codebook texts, no rules: the corpus has
    neither), with the learned coder as evaluation.yaml's defaults set it (``suggestions``)
    unless ``options`` say otherwise; sentence embeddings kept under ``cache`` (None: not kept)."""
    from pipeline.analysis.evaluate import evaluate_coder
    from pipeline.config.evaluation import Suggestions
    from pipeline.runtime.cache import PickleCache

    defaults = Suggestions()
    options = {"min_examples": defaults.min_examples, "threshold": defaults.threshold,
               "tune_thresholds": defaults.tune_thresholds, "seed": defaults.seed,
               "embeddings": PickleCache(cache) if defaults.embeddings else None, **options}
    segments, codings = load_corpus(name, root)
    return evaluate_coder(segments, codings, codebook=None, folds=folds, **options)


def table(evaluations: dict[str, dict]) -> str:
    """One table across ``evaluations`` ({name: evaluate_coder's figures}): per coder, micro and
    macro P/R/F1 and Krippendorff's alpha with the people (every segment x code a unit), and
    the model's margin over the baseline in micro F1."""
    lines = [f"{'evaluation':16}{'coder':10}{'segments':>9}{'codes':>6}{'micro P':>9}{'R':>7}{'F1':>7}"
             f"{'macro P':>9}{'R':>7}{'F1':>7}{'alpha':>8}"]
    for name, figures in evaluations.items():
        for coder in ("rules", "model", "baseline"):
            if coder == "rules" and not figures.get("has_rules", True):
                continue  # another team's corpus has no codebook patterns
            micro, macro, a = figures[coder]["micro"], figures[coder]["macro"], figures[coder].get("alpha")
            lines.append(f"{name:16}{coder:10}{figures['segments']:9}{len(figures['codes_evaluated']):6}"
                         f"{micro['precision']:9.3f}{micro['recall']:7.3f}{micro['f1']:7.3f}{macro['precision']:9.3f}"
                         f"{macro['recall']:7.3f}{macro['f1']:7.3f}{'-' if a is None else f'{a:.3f}':>8}")
        margin = figures["model"]["micro"]["f1"] - figures["baseline"]["micro"]["f1"]
        lines.append(f"{name:16}{'margin':10}{'':15}model - baseline micro F1: {margin:+.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write every corpus's figures here")
    parser.add_argument("--cache", type=Path, help="where the sentence embeddings are kept (default: not kept)")
    parser.add_argument("--sample", type=Path, metavar="JSON",
                        help="evaluate-coder's figures for the evaluation itself, shown first")
    args = parser.parse_args(argv)
    evaluations = {}
    if args.sample:
        evaluations["sample"] = json.loads(args.sample.read_text(encoding="utf-8"))
    for name in CORPORA:
        if not corpus_path(name).exists():
            print(f"{name}: skipped, {corpus_path(name)} is absent")
            continue
        evaluations[name] = {**measure(name, folds=args.folds, cache=args.cache), "has_rules": False}
    print(table(evaluations))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({k: v for k, v in evaluations.items() if k != "sample"}, indent=2,
                                        sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
