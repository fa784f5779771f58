"""The command line end to end: exit codes, messages, outputs, atomicity, determinism."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline import commands, flow, schemas
from pipeline.stages.coding import learned as learn
from pipeline.stages.privacy import names as privacy_names
from pipeline.cli import main
from pipeline.nlp.norms import lemma_table
from pipeline.runtime.outputs import MARKER
from pipeline.runtime.parallel import Workers

from conftest import REGISTER, ROOT, S1, SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, write_evaluation


def digests(folder: Path) -> dict[str, str]:
    """The outputs in ``folder`` (not the cache, not the markers of the folders a run owns)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".cache" not in p.parts and p.name != MARKER}


def run_cli(*args: str) -> int:
    return main([*args])


def test_validate_on_the_sample_exits_0():
    done = subprocess.run([sys.executable, "-m", "pipeline", "validate", "--codebook", str(SAMPLE_CODEBOOK),
                           "--transcripts", str(SAMPLE_TRANSCRIPTS)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No problems found.")


def test_the_command_line_gives_arrow_memory_back_to_the_system(monkeypatch):
    """Arrow's default allocator keeps freed memory; a run from the command line uses the system's."""
    import pyarrow

    monkeypatch.setattr(pyarrow, "set_memory_pool", lambda pool: chosen.append(pool.backend_name))
    chosen: list[str] = []
    main([])
    assert chosen == ["system"]


def test_no_command_prints_help(capsys):
    assert run_cli() == 2
    assert "run" in capsys.readouterr().out


def test_run_writes_the_outputs_and_a_summary(tiny, tmp_path, capsys):
    out = tmp_path / "reports"
    assert run_cli("run", "--codebook", str(tiny[0]), "--transcripts", str(tiny[1]), "--out", str(out)) == 0
    printed = capsys.readouterr()
    assert "Run complete." in printed.out
    assert "segments      4" in printed.out and "sessions      2 (2 participants)" in printed.out
    assert "[segment] 2/2 done" in printed.err  # plain progress lines when not on a terminal
    written = set(digests(out))
    assert {"codebook.html", "codebook.md", "codings.csv", "evidence.json", "evidence_matrix.html",
            "interim/codings.parquet", "interim/segments.parquet", "interim/texts/S1.txt", "interim/texts/S2.txt",
            "interim/transcripts.parquet", "interim/turns.parquet", "manifest.json", "matrices.xlsx",
            "matrices/findings.csv", "matrices/question_by_group.csv", "review_queue.csv", "segments.csv",
            "sessions.csv", "transcripts/S1.html", "transcripts/S2.html", "triangulation_report.docx",
            "triangulation_report.html", "triangulation_report.md", "unplaced_quotes.csv"} <= written
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["outputs"]) == sorted(written)
    segments = pd.read_csv(out / "segments.csv", keep_default_na=False)
    assert list(segments.columns) == schemas.SEGMENTS.names
    text = (out / "interim/texts/S1.txt").read_text(encoding="utf-8")
    assert all(text[r.start:r.end] == r.text for r in segments[segments.session_id == "S1"].itertuples())
    schemas.check(commands.read_table(out, schemas.SEGMENTS), schemas.SEGMENTS)
    sessions = pd.read_csv(out / "sessions.csv")
    assert list(sessions["segments"]) == [2, 2] and "text" not in sessions.columns


def test_the_manifest_records_inputs_without_absolute_paths(tiny, tmp_path):
    out = tmp_path / "reports"
    flow.run(*tiny, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["inputs"]["transcripts"]) == ["register.csv", "s1.txt", "s2.txt"]
    assert manifest["counts"]["segments"] == 4
    assert manifest["packages"]["spacy"].startswith("3.8")
    assert str(tmp_path) not in (out / "manifest.json").read_text(encoding="utf-8")


def test_two_runs_give_identical_files_but_the_run_time(tiny, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    flow.run(*tiny, first)
    flow.run(*tiny, second)
    one, two = digests(first), digests(second)
    assert {k for k in one if one[k] != two[k]} <= {"manifest.json"}
    strip = lambda p: {k: v for k, v in json.loads(p.read_text()).items() if k != "run"}
    assert strip(first / "manifest.json") == strip(second / "manifest.json")


def test_a_failed_run_leaves_earlier_outputs_untouched(tiny, tmp_path, capsys):
    out = tmp_path / "reports"
    flow.run(*tiny, out)
    before = digests(out)
    (tiny[1] / "register.csv").write_text(REGISTER.replace("donor", "donr"), encoding="utf-8")
    assert run_cli("run", "--codebook", str(tiny[0]), "--transcripts", str(tiny[1]), "--out", str(out)) == 1
    err = capsys.readouterr().err.strip().split("\n")
    assert err[-2] == (f"Error: {tiny[1]}/register.csv, row 3: unknown stakeholder group 'donr'. Did you "
                       f"mean 'donor'? Use one of: justice_sector, donor (declared in evaluation.yaml).")
    assert err[-1] == "1 problem found. Nothing was written; earlier outputs are unchanged."
    assert digests(out) == before
    assert not list(out.glob(".staging-*"))


def test_a_report_failing_halfway_through_rendering_leaves_earlier_outputs_untouched(tiny, tmp_path, monkeypatch):
    # Reports are written as they are built: one that fails after others were written must
    # still leave the previous run's outputs as they were.
    out = tmp_path / "reports"
    flow.run(*tiny, out)
    before = digests(out)
    real = flow.build_reports

    def failing(tables):
        for number, file in enumerate(real(tables)):
            if number == 3:
                raise RuntimeError("rendering failed")
            yield file

    monkeypatch.setattr(flow, "build_reports", failing)
    with pytest.raises(RuntimeError, match="rendering failed"):
        flow.run(*tiny, out, force=True)
    assert digests(out) == before
    assert not list(out.glob(".staging-*"))


def test_a_removed_session_leaves_no_stale_text(tiny, tmp_path):
    out = tmp_path / "reports"
    flow.run(*tiny, out)
    (tiny[1] / "register.csv").write_text(REGISTER.rsplit("\n", 2)[0] + "\n", encoding="utf-8")
    (tiny[1] / "s2.txt").unlink()
    flow.run(*tiny, out)
    assert sorted(p.name for p in (out / "interim/texts").iterdir()) == [MARKER, "S1.txt"]


def test_warnings_are_printed_and_recorded(tmp_path, capsys):
    codebook, transcripts = write_evaluation(tmp_path, files={
        "s1.txt": "Informe sin etiquetas de hablante.", "s2.txt": "Interviewer: Hi?\nOfficer: Hello.\n"})
    out = tmp_path / "reports"
    assert run_cli("run", "--codebook", str(codebook), "--transcripts", str(transcripts), "--out", str(out)) == 0
    assert f"Warning: {transcripts}/s1.txt: has no speaker labels" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["warnings"][0]["file"] == "transcripts/s1.txt"


def test_a_missing_model_is_an_error_with_the_fix(tiny, tmp_path, capsys):
    config = (tiny[0] / "evaluation.yaml").read_text(encoding="utf-8")
    (tiny[0] / "evaluation.yaml").write_text(config.replace("models: {}", "models: {es: es_no_such_model}"))
    assert run_cli("run", "--codebook", str(tiny[0]), "--transcripts", str(tiny[1]),
                   "--out", str(tmp_path / "r")) == 1
    assert "the spaCy model 'es_no_such_model' (for language 'es') is not installed. Run `make install`" \
        in capsys.readouterr().err


def test_run_on_the_sample_with_the_spanish_model(tmp_path):
    result = flow.run(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, tmp_path / "reports")
    register = pd.read_csv(SAMPLE_TRANSCRIPTS / "register.csv")
    assert result.counts["sessions"] == len(register)
    assert result.counts["participants"] == register["participants"].sum()
    # Only the check of the sample's findings file warns (of what tests/test_findings.py tests).
    assert [w for w in result.warnings if not w.file.endswith("findings.yaml")] == []
    segments = commands.read_table(tmp_path / "reports", schemas.SEGMENTS)
    assert set(segments["session_id"]) == set(register["session_id"])
    assert (segments["words"] > 0).all()
    codings = commands.read_table(tmp_path / "reports", schemas.CODINGS)
    bounds = codings.merge(segments[["segment_id", "start", "end"]], on="segment_id", suffixes=("", "_segment"))
    assert ((bounds.start >= bounds.start_segment) & (bounds.end <= bounds.end_segment)).all()
    assert (bounds.start < bounds.end).all()


def test_the_ner_model_and_lookup_lemmas_are_let_go_before_the_coding_stage_forks(tmp_path, monkeypatch):
    """Loaded for the privacy scan and the parse, they are not held (in this process, and in the
    workers it forks) while the model is fitted or the rules are matched."""
    held = {"fit": [], "rules": []}
    suggest_codes, parallel_map = learn.suggest_codes, Workers.map

    def sizes():
        return privacy_names._load_ner.cache_info().currsize, lemma_table.cache_info().currsize

    def fit(*args, **kwargs):
        held["fit"].append(sizes())
        return suggest_codes(*args, **kwargs)

    def match(self, function, *args, **kwargs):
        if function.__qualname__.startswith("RuleCoder.code."):  # the rules' matching
            held["rules"].append(sizes())
        return parallel_map(self, function, *args, **kwargs)

    monkeypatch.setattr(learn, "suggest_codes", fit)
    monkeypatch.setattr(Workers, "map", match)
    flow.run(SAMPLE_CODEBOOK, SAMPLE_TRANSCRIPTS, tmp_path / "reports")
    assert held == {"fit": [(0, 0)], "rules": [(0, 0)]}


def test_other_warnings_are_shown_not_recorded_and_do_not_stall_the_run(tiny, tmp_path, monkeypatch):
    import warnings

    original = flow.read_transcripts

    def noisy(*args, **kwargs):
        warnings.warn("a library's own warning", DeprecationWarning)
        return original(*args, **kwargs)

    monkeypatch.setattr(flow, "read_transcripts", noisy)
    shown = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *a, **k: shown.append(str(message)))
    result = flow.run(*tiny, tmp_path / "out")
    assert shown == ["a library's own warning"]
    assert all("library" not in w.message for w in result.warnings)


def test_import_qdpx_command_reports_the_position_convention(tmp_path, capsys):
    nvivo = ROOT.parent / "shared" / "realdata" / "refi" / "oltas0517.qdpx"
    if not nvivo.is_file():
        pytest.skip(f"the real NVivo export is not at {nvivo} (it lives in shared/, outside the repository)")
    assert run_cli("import-qdpx", str(nvivo), "--out", str(tmp_path / "imported")) == 0
    printed = capsys.readouterr().out
    assert "UTF-16" in printed or "utf-16" in printed
    assert (tmp_path / "imported" / "transcripts" / "register.csv").is_file()


def test_warnings_of_one_kind_are_one_line_and_each_is_kept(tmp_path, capsys):
    files = {f"s{n}.txt": "Entrevista\n" + S1 for n in (1, 2, 3)}
    register = REGISTER.replace("S2,interview,donor,en", "S2,interview,donor,es") + \
        "s3.txt,S3,interview,donor,es,1,lima,2024-09-03\n"
    codebook, transcripts = write_evaluation(tmp_path, register=register, files=files)
    assert run_cli("validate", "--codebook", str(codebook), "--transcripts", str(transcripts)) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("Warning:")]
    assert lines == [f"Warning: 3 files have text before the first speaker label, kept but not read as anyone's "
                     f"speech: {transcripts}/s1.txt, {transcripts}/s2.txt, {transcripts}/s3.txt. Mark a title with "
                     f"'#', declare the speakers in a legend at the top ('I = Interviewer; X = Informant'), or label "
                     f"the text with its speaker."]
    assert "--each-warning prints each" in err
    assert run_cli("validate", "--codebook", str(codebook), "--transcripts", str(transcripts), "--each-warning") == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Warning:")]
    assert lines == [f"Warning: {transcripts}/s{n}.txt, line 1: has text before the first speaker label; it is kept "
                     f"in the transcript but is not read as anyone's speech. Mark a title with '#', declare the "
                     f"speakers in a legend at the top ('I = Interviewer; X = Informant'), or label the text with "
                     f"its speaker." for n in (1, 2, 3)]
    flow.run(codebook, transcripts, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert [w["file"] for w in manifest["warnings"]] == ["transcripts/s1.txt", "transcripts/s2.txt", "transcripts/s3.txt"]
    assert manifest["warning_groups"] == [{
        "kind": "have text before the first speaker label, kept but not read as anyone's speech",
        "fix": manifest["warnings"][0]["fix"], "count": 3,
        "files": ["transcripts/s1.txt", "transcripts/s2.txt", "transcripts/s3.txt"]}]
