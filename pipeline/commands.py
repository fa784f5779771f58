"""What the command line's commands call, except ``run`` (the whole pipeline, :func:`pipeline.flow.run`).

Each command is a short function from an evaluation's folders to a :class:`Result` (or to
figures) that calls the library's functions: ``validate``, ``privacy_scan``, ``import_coding``,
``evaluate``, ``reliability``, ``render_codebook``, ``findings_check``; and :func:`read_table` for the tables a run
wrote. Every :class:`PipelineWarning` a command raises is collected (:func:`collect_warnings`)
and returned with its result, or beside its errors; the CLI prints both.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import schemas
from pipeline.analysis.reliability import measure_reliability
from pipeline.config.codebook import Codebook, load_codebook
from pipeline.config.evaluation import Evaluation, load_evaluation
from pipeline.config.findings import FINDINGS_FILE, load_findings
from pipeline.errors import ConfigError, FindingsError, InputError, PipelineWarning, Problem
from pipeline.reports.banner import with_privacy_off_banner
from pipeline.reports.findings import REPORT as FINDINGS_REPORT, findings_reports
from pipeline.reports.manual import codebook_manual
from pipeline.reports.reliability import reliability_report
from pipeline.runtime.cache import JsonCache, PickleCache
from pipeline.runtime.doc_cache import DocCache
from pipeline.runtime.outputs import RECORD, StagedOutputs, check_output_folder
from pipeline.runtime.parallel import Workers
from pipeline.seams import IN_ORDER, Parallel, ParseCache
from pipeline.stages import privacy
from pipeline.stages.coding.combine import code_segments
from pipeline.stages.coding.human import (human_codings_by_segment, placement_counts, placement_warnings,
                                          read_human_coding)
from pipeline.stages.coding.rule_coder import phrase_matches
from pipeline.stages.coding import decisions, summaries as cell_summaries  # reviewers' files from the browser
from pipeline.stages.findings.check import checked_with_warnings, findings_counts
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.matrices import build_evidence_matrices
from pipeline.stages.segment import build_segments
from pipeline.stages.stance import cross_validate as cross_validate_stance
from pipeline.stages.triangulate import triangulate
from pipeline.stages.turns import RESPONDENT, build_turns

CODING_FOLDER = "coding"
# Under an output folder: the text extracted from a .docx, .pdf or subtitle file with a privacy
# finding, where the finding's line is (the run's private cache: not an output, never shared).
EXTRACTED_FOLDER = ".cache/extracted"
CODING_FORMATS = (".csv", ".xlsx")


@dataclass(frozen=True)
class Result:
    """What a command did: counts, warnings, and the files it wrote (relative to ``out``)."""

    counts: dict
    warnings: tuple[Problem, ...] = ()
    out: Path | None = None
    outputs: tuple[str, ...] = field(default_factory=tuple)
    details: tuple[Problem, ...] = ()  # what a command found, for people (privacy-scan's findings)
    up_to_date: bool = False  # nothing had changed since the run that wrote ``out``: nothing was redone
    phrases: tuple = ()  # validate --patterns: (language, code, phrase, what it matches on) of every phrase


@dataclass(frozen=True)
class ParseSettings:
    """How the segment and code stages parse texts with spaCy: the pipeline per language and the
    batch size (evaluation.yaml's ``nlp``), the cache of parsed documents, and the parallel map
    the parse shares its work with."""

    models: dict[str, str]
    batch_size: int
    cache: ParseCache
    parallel: Parallel

    @classmethod
    def of(cls, evaluation: Evaluation, *, cache: ParseCache, parallel: Parallel) -> ParseSettings:
        return cls(dict(evaluation.nlp.models), evaluation.nlp.batch_size, cache, parallel)

    def arguments(self) -> dict:
        """The keyword arguments of build_segments and code_segments that say how to parse."""
        return {"models": self.models, "batch_size": self.batch_size, "cache": self.cache, "parallel": self.parallel}


@contextmanager
def collect_warnings(into: list[Problem]):
    """Record every :class:`PipelineWarning` raised inside the block, once each, in order, into
    ``into``; an :class:`InputError` raised inside leaves with them as its ``warnings``."""
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


def coding_files(folder: Path) -> list[Path]:
    """The human coding files of an evaluation: CSV and XLSX files under ``coding/``."""
    coding = Path(folder) / CODING_FOLDER
    if not coding.is_dir():
        return []
    return sorted(p for p in coding.iterdir() if p.suffix.lower() in CODING_FORMATS and not p.name.startswith("."))


def evaluation_or_none(codebook_dir: Path | str) -> Evaluation | None:
    """evaluation.yaml alone, if it is sound: the register can still be checked against it."""
    try:
        return load_evaluation(codebook_dir)
    except ConfigError:
        return None


def summary_counts(transcripts: pd.DataFrame, turns: pd.DataFrame, segments: pd.DataFrame | None = None,
                   codings: pd.DataFrame | None = None) -> dict:
    """What a command read, for its summary: sessions, participants and turns; segments and
    words, and codings by source and status, when given."""
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


def validate(codebook_dir: Path | str, transcripts_dir: Path | str, *, progress=None, patterns: bool = False) -> Result:
    """Check the config, the register and every transcript without running the rest.

    Raises :class:`InputError` with every problem found; returns the counts and warnings, and
    with ``patterns`` what each lemma phrase matches on (``Result.phrases``, see
    :func:`pipeline.stages.coding.rule_coder.phrase_matches`).
    """
    found: list[Problem] = []
    errors: list[Problem] = []
    with collect_warnings(found):
        try:
            codebook = load_codebook(codebook_dir)
            evaluation = codebook.evaluation
        except ConfigError as exc:
            errors += exc.problems
            codebook, evaluation = None, evaluation_or_none(codebook_dir)
        if codebook is not None:
            try:
                load_findings(codebook_dir, codebook)
            except FindingsError as exc:
                errors += exc.problems
        if evaluation is None:
            raise InputError(errors)
        transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, errors=errors,
                                       parallel=Workers(evaluation.nlp.processes), progress=progress)
        turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels,
                            folder=transcripts_dir, errors=errors)
        if errors:
            raise InputError(errors)
        phrases = tuple(phrase_matches(codebook, dict(evaluation.nlp.models))) if patterns else ()
    return Result(counts=summary_counts(transcripts, turns), warnings=tuple(found), phrases=phrases)


def privacy_scan(codebook_dir: Path | str, transcripts_dir: Path | str, out_csv: Path | str, *,
                 private_names: Path | str | None = None, progress=None) -> Result:
    """Scan every text an output could contain and write the findings (PRIVACY_FINDINGS: where
    and what kind, never the text) to ``out_csv``; nothing else is run or written."""
    codebook_dir, transcripts_dir, out = Path(codebook_dir), Path(transcripts_dir), Path(out_csv)
    check_output_folder(out.parent, inputs={"--codebook": codebook_dir, "--transcripts": transcripts_dir},
                        subfolders=False)
    found: list[Problem] = []
    with collect_warnings(found):
        codebook = load_codebook(codebook_dir)
        evaluation = codebook.evaluation
        transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, progress=progress,
                                       parallel=Workers(evaluation.nlp.processes))
        turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=transcripts_dir)
        human, unplaced = read_human_coding(coding_files(transcripts_dir), transcripts=transcripts, turns=turns,
                                            codebook=codebook)
        scanner = privacy.scanner_for(codebook, codebook_dir, transcripts, human, private_names,
                                      parallel=Workers(evaluation.nlp.processes))
        summaries = cell_summaries.read_summaries(coding_files(transcripts_dir), evaluation=evaluation)
        items = privacy.scan_items(transcripts, human, unplaced, summaries)
        findings, _ = privacy.find_identifiers(items, scanner)
    with StagedOutputs(out.parent) as staged:
        staged.write_csv(out.name, findings)
    extracted = extracted_texts(transcripts, out.parent / EXTRACTED_FOLDER)
    problems = privacy.findings_problems(findings, transcripts_dir, {f: path for f, (path, _) in extracted.items()})
    write_extracted(extracted, {problem.file for problem in problems}, transcripts_dir)
    counts = {"sessions": len(transcripts), "texts": len(items), "findings": len(findings),
              "by_kind": {k: int(v) for k, v in findings["kind"].value_counts().sort_index().items()}}
    return Result(counts=counts, warnings=tuple(found), out=out.parent, outputs=(out.name,),
                  details=tuple(problems))


def guard_inputs(codebook: Codebook, codebook_dir: Path, transcripts_dir: Path, transcripts: pd.DataFrame,
                 turns: pd.DataFrame, *, policy: str | None, private_names: Path | str | None,
                 files: list[Path] | None = None, parallel: Parallel = IN_ORDER,
                 extracted_dir: Path | None = None) -> privacy.Guarded:
    """The human coding (``files``, by default the evaluation's ``coding/`` files) placed on the
    transcripts as they are, then the privacy guard applied to transcripts, turns and coding
    together (see :func:`pipeline.stages.privacy.guard`); ``policy`` None is the config's.
    Where the guard blocks, the text extracted from each .docx, .pdf or subtitle file it names
    is written under ``extracted_dir`` (if given), which its findings' lines count in."""
    files = coding_files(transcripts_dir) if files is None else files
    human, unplaced = read_human_coding(files, transcripts=transcripts, turns=turns, codebook=codebook)
    summaries = cell_summaries.read_summaries(files, evaluation=codebook.evaluation)  # guarded too
    policy = policy or codebook.evaluation.privacy.policy
    scanner = None if policy == "off" else privacy.scanner_for(codebook, codebook_dir, transcripts, human,
                                                               private_names, parallel=parallel)
    extracted = extracted_texts(transcripts, extracted_dir)
    try:
        return privacy.guard(transcripts, turns, human, unplaced, policy=policy, scanner=scanner,
                             folder=transcripts_dir, ner_models=privacy.ner_models_for(codebook),
                             extracted={file: path for file, (path, _) in extracted.items()}, summaries=summaries)
    except InputError as exc:
        write_extracted(extracted, {problem.file for problem in exc.problems}, transcripts_dir)
        raise


def extracted_texts(transcripts: pd.DataFrame, folder: Path | None) -> dict[str, tuple[Path, str]]:
    """{file: (where under ``folder`` its extracted text goes, the text)} of every transcript
    whose text is extracted (not a .txt or .md file); empty without a ``folder``."""
    if folder is None:
        return {}
    return {file: (folder / f"{file}.txt", text) for file, kind, text in
            zip(transcripts["file"], transcripts["format"], transcripts["text"]) if kind not in privacy.OWN_TEXT_FORMATS}


def write_extracted(extracted: dict[str, tuple[Path, str]], named: set[str], transcripts_dir: Path) -> None:
    """Write the extracted text of each transcript a problem names (``named``: the problems' files)."""
    for file, (path, text) in extracted.items():
        if str(Path(transcripts_dir) / file) in named:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


def _guarded_inputs(codebook: Codebook, codebook_dir: Path | str, transcripts_dir: Path | str,
                    files: list[Path]) -> privacy.Guarded:
    """TRANSCRIPTS, TURNS and the human coding of ``files``, guarded as a run guards them
    (``privacy.policy``): for commands that write transcript text."""
    evaluation = codebook.evaluation
    transcripts = read_transcripts(transcripts_dir, evaluation=evaluation, parallel=Workers(evaluation.nlp.processes))
    turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=transcripts_dir)
    return guard_inputs(codebook, Path(codebook_dir), Path(transcripts_dir), transcripts, turns, policy=None,
                        private_names=None, files=files, parallel=Workers(evaluation.nlp.processes))


def import_coding(codebook_dir: Path | str, transcripts_dir: Path | str, files: list[Path], out_dir: Path | str) -> Result:
    """Place the codings of ``files`` on their transcripts and write, for each file, the codings
    with offsets (``coding_<name>.csv``) and the quotes that could not be placed
    (``unplaced_<name>.csv``) to ``out_dir``."""
    check_output_folder(Path(out_dir), inputs={"--codebook": Path(codebook_dir), "--transcripts": Path(transcripts_dir)},
                        subfolders=False)
    found: list[Problem] = []
    with collect_warnings(found):
        codebook = load_codebook(codebook_dir)
        # The quotes written out are transcript text: guarded as in a run (privacy.policy).
        guarded = _guarded_inputs(codebook, codebook_dir, transcripts_dir, list(files))
        transcripts, placed, unplaced = guarded.transcripts, guarded.human, guarded.unplaced
        for problem in placement_warnings(placed, unplaced, ", ".join(str(f) for f in files),
                                          listed_in="unplaced_<name>.csv"):
            warnings.warn(PipelineWarning(problem))
    texts = transcripts.set_index("session_id")["text"]
    placed = placed.assign(quote=[texts[s][a:b] for s, a, b in zip(placed["session_id"], placed["start"], placed["end"])])
    with StagedOutputs(Path(out_dir)) as staged:
        for path in files:
            stem = Path(path).stem
            staged.write_csv(f"coding_{stem}.csv", decisions.imported(placed[placed["file"] == Path(path).name]))
            staged.write_csv(f"unplaced_{stem}.csv", unplaced[unplaced["file"] == Path(path).name])
    return Result(counts=placement_counts(placed, unplaced), warnings=tuple(found),
                  out=Path(out_dir), outputs=tuple(staged.names))


def _coded_sessions(codebook_dir, transcripts_dir, files, cache_dir, *, guard: bool = False):
    """The codebook, and TRANSCRIPTS, TURNS, SEGMENTS and placed human coding restricted to the
    sessions ``files`` code, with the :class:`ParseSettings` used and how the coding was placed
    (:func:`placement_counts`): what reliability and evaluation read.
    With ``guard``, the privacy guard is applied as in a run (for commands that write text). How
    the coding was placed is warned of (:func:`placement_warnings`)."""
    codebook = load_codebook(codebook_dir)
    evaluation = codebook.evaluation
    if guard:
        guarded = _guarded_inputs(codebook, codebook_dir, transcripts_dir, list(files))
        transcripts, turns, human, unplaced = guarded.transcripts, guarded.turns, guarded.human, guarded.unplaced
    else:
        transcripts = read_transcripts(transcripts_dir, evaluation=evaluation,
                                       parallel=Workers(evaluation.nlp.processes))
        turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=transcripts_dir)
        human, unplaced = read_human_coding(list(files), transcripts=transcripts, turns=turns, codebook=codebook)
    for problem in placement_warnings(human, unplaced, ", ".join(str(f) for f in files),
                                      listed_in="`coding import`'s unplaced_<name>.csv"):
        warnings.warn(PipelineWarning(problem))
    coded = set(human["session_id"])
    transcripts = transcripts[transcripts["session_id"].isin(coded)].reset_index(drop=True)
    turns = turns[turns["session_id"].isin(coded)].reset_index(drop=True)
    parse = ParseSettings.of(evaluation, cache=DocCache(Path(cache_dir) if cache_dir else None),
                             parallel=Workers(evaluation.nlp.processes))
    segments = build_segments(transcripts, turns, max_sentences=evaluation.segmentation.max_sentences,
                              max_chars=evaluation.segmentation.max_chars, **parse.arguments())
    return codebook, transcripts, turns, segments, human, parse, placement_counts(human, unplaced)


def evaluate(codebook_dir: Path | str, transcripts_dir: Path | str, files: list[Path], *, folds: int = 5,
             cache_dir: Path | str | None = None, learning_curve: bool = False) -> dict:
    """Measure rules, model and baseline against the human coding in ``files`` (see
    :mod:`pipeline.analysis.evaluate`); only the coded sessions are read."""
    # Imported here: scikit-learn takes a second to import, and only this command needs it.
    from pipeline.analysis.evaluate import evaluate_coder

    codebook, transcripts, turns, segments, human, parse, counts = _coded_sessions(codebook_dir, transcripts_dir,
                                                                                   files, cache_dir)
    evaluation, settings = codebook.evaluation, codebook.evaluation.suggestions
    kept = ({"rule_cache": JsonCache(Path(cache_dir).parent / "rules"),  # beside the parsed documents, as in a run
             "regex_cache": JsonCache(Path(cache_dir).parent / "regex")} if cache_dir else {})
    codings = code_segments(transcripts, turns, segments, codebook=codebook, human=human, **kept,
                            **parse.arguments())
    figures = evaluate_coder(segments, codings, codebook=codebook, folds=folds, learning_curve=learning_curve,
                             min_examples=settings.min_examples, threshold=settings.threshold, seed=settings.seed,
                             tune_thresholds=settings.tune_thresholds, embeddings=PickleCache(  # the same for these
                                 cache_dir and Path(cache_dir).parent / "embeddings") if settings.embeddings else None)
    # The coders' stances against the learned one and the lexicon's on the same passages.
    lexicon = code_segments(transcripts, turns, segments, codebook=codebook, human=human.assign(stance=""),
                            **kept, **parse.arguments())
    key = list(schemas.CODINGS.key)
    coded = codings[codings["stance_by"] == "coder"].merge(
        lexicon[key + ["stance"]].rename(columns={"stance": "lexicon_stance"}), on=key, how="left")
    figures["stance"] = cross_validate_stance(coded, segments, folds=folds, seed=evaluation.stance_model.seed)
    return figures | {"human_coding": counts}


def reliability(codebook_dir: Path | str, transcripts_dir: Path | str, files: list[Path], *,
                coders: list[str] | None = None, out_dir: Path | str, machine: Path | None = None,
                cache_dir: Path | str | None = None) -> dict:
    """Agreement between the human coders of ``files``; writes ``reliability.html`` and
    ``reliability.json`` to ``out_dir`` and returns the figures (see :mod:`pipeline.analysis.reliability`)."""
    check_output_folder(Path(out_dir), inputs={"--codebook": Path(codebook_dir), "--transcripts": Path(transcripts_dir)},
                        subfolders=False)
    codebook, transcripts, turns, segments, human, _, _ = _coded_sessions(codebook_dir, transcripts_dir, files,
                                                                          cache_dir, guard=True)
    codings = pd.DataFrame(human_codings_by_segment(human, segments))
    figures = measure_reliability(segments, codings, codebook=codebook, coders=coders)
    machine_figures = json.loads(Path(machine).read_text(encoding="utf-8")) if machine else None
    with StagedOutputs(Path(out_dir)) as staged:
        staged.write_json("reliability.json", figures)
        staged.write_text("reliability.html", reliability_report(
            figures, title=f"Inter-coder reliability: {codebook.evaluation.evaluation.title.get('en')}",
            machine=machine_figures))
    return figures


def render_codebook(codebook_dir: Path | str, out_dir: Path | str) -> Result:
    """Write the codebook manual (``codebook.html``, ``codebook.md``) to ``out_dir``."""
    check_output_folder(Path(out_dir), inputs={"--codebook": Path(codebook_dir)}, subfolders=False)
    codebook = load_codebook(codebook_dir)
    with StagedOutputs(Path(out_dir)) as staged:
        for name, text in codebook_manual(codebook, language=codebook.evaluation.evaluation.languages[0]).items():
            staged.write_text(name, text)
    counts = {"codes": len(codebook.codes), "questions": len(codebook.evaluation.questions)}
    return Result(counts=counts, out=Path(out_dir), outputs=tuple(staged.names))


def read_table(out_dir: Path | str, table: schemas.Table) -> pd.DataFrame:
    """A stage table written by :func:`pipeline.flow.run`, checked against its schema."""
    frame = pd.read_parquet(Path(out_dir) / "interim" / f"{table.name}.parquet")
    return schemas.check(frame.astype({c.name: schemas.DTYPES[c.type] for c in table.columns}), table)


def _finished_run(codebook: Codebook, codebook_dir: Path, transcripts_dir: Path, out: Path) -> dict:
    """The manifest of the run in ``out``, checked to be a finished run of these inputs: the same
    codebook files and the same transcripts and register (``findings.yaml`` aside, which is
    what is checked). Raises :class:`InputError` naming each input changed since."""
    record = out / RECORD
    if not (record.is_file() and (out / "interim").is_dir()):
        raise InputError([Problem(str(out), "holds no finished run of the pipeline.",
                                  "Run it first (`make run`, or `python -m pipeline run --out` this folder), "
                                  "then check the findings.")])
    try:
        manifest = json.loads(record.read_text(encoding="utf-8"))
        inputs = manifest["inputs"]
    except (ValueError, KeyError, TypeError):
        raise InputError([Problem(str(record), "is not a run's manifest.", "Run the pipeline again into this folder.")]) \
            from None
    changed = []
    current = dict(codebook.files)
    for name in sorted(set(current) | set(inputs.get("codebook", {}))):
        if current.get(name) != inputs.get("codebook", {}).get(name):
            changed.append(str(codebook_dir / name))
    for name, digest in sorted(inputs.get("transcripts", {}).items()):
        path = transcripts_dir / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            changed.append(str(path))
    if changed:
        raise InputError([Problem(name, f"has changed since the run in {out} (or is gone).",
                                  "Run the pipeline again, then check the findings.") for name in changed])
    return manifest


def findings_check(codebook_dir: Path | str, transcripts_dir: Path | str, out_dir: Path | str, *,
                   strict: bool = False) -> Result:
    """Check ``findings.yaml`` against the finished run in ``out_dir`` (its stage tables under
    ``interim/``) and write the findings reports there, as the run writes them (the privacy-off
    banner where the run had one). Runs no stage. Each problem is a warning, or, with ``strict``
    (or the file's ``strict: true``), all of them one :class:`FindingsError` and nothing written."""
    codebook_dir, transcripts_dir, out = Path(codebook_dir), Path(transcripts_dir), Path(out_dir)
    found: list[Problem] = []
    with collect_warnings(found):
        codebook = load_codebook(codebook_dir)
        claims = load_findings(codebook_dir, codebook)
        if claims is None:
            raise FindingsError([Problem(str(codebook_dir / FINDINGS_FILE), "does not exist.",
                                         "Write the team's findings there (see README.md, 'The findings file').")])
        manifest = _finished_run(codebook, codebook_dir, transcripts_dir, out)
        tables = {t.name: read_table(out, t) for t in (schemas.TRANSCRIPTS, schemas.TURNS, schemas.SEGMENTS,
                                                       schemas.CODINGS)}
        rubric = codebook.evaluation.triangulation
        evidence = build_evidence_matrices(tables["segments"], tables["codings"], codebook=codebook,
                                           include_suggestions=rubric.include_suggestions,
                                           min_confidence=rubric.min_confidence)["evidence"]
        questions = triangulate(evidence, tables["transcripts"], codebook=codebook, codings=tables["codings"])
        checked = checked_with_warnings(claims, codebook, strict=strict, evidence=evidence, questions=questions,
                                        **tables)
    unscanned = manifest.get("privacy", {}).get("policy") == "off"
    with StagedOutputs(out) as staged:
        for name, content in findings_reports(checked, codebook=codebook,
                                              language=codebook.evaluation.evaluation.languages[0]):
            kind = FINDINGS_REPORT.kind_of(name)
            staged.write(name, with_privacy_off_banner(content, kind) if unscanned else content, kind=kind)
    return Result(counts=findings_counts(checked), warnings=tuple(found), out=out, outputs=tuple(staged.names))
