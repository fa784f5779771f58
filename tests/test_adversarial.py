"""Bad inputs and a hostile machine: nothing lost, no traceback, no hang (issue #21).

Each case runs the command line in this process and asserts the message (one ``Error:`` line
naming the path and the fix, exit code 1) and that every input, and the outputs of the run
before, are byte for byte what they were. Tests run as root here, and root ignores file
permissions: a read-only disk, a full disk and a file held by another program are simulated by
making the write that meets them raise the operating system's error (``EROFS``, ``ENOSPC``,
``EACCES``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config.scaffold import init_evaluation
from pipeline.runtime import cache as memo
from pipeline.runtime.outputs import MARKER, StagedOutputs

from conftest import CODES_YAML, REGISTER, S1, S2, TINY_FINDINGS, write_evaluation

# A "billion laughs" document: nine levels of nine aliases, 9**9 strings once expanded.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]\n" for before, name in zip("abcdefgh", "bcdefghi"))


def contents(*folders: Path, cache: bool = True) -> dict[str, str]:
    """Every file under ``folders`` (links as what they point to) with a hash of its bytes."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else [folder]:
            if path.is_file() and (cache or ".cache" not in path.parts):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def command(capsys, *argv: str) -> tuple[int, list[str]]:
    """Exit code and the ``Error:`` lines of one command; nothing else may look like a traceback."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.split("\n") if line.startswith("Error:")]


def run_args(codebook: Path, transcripts: Path, out: Path, *more: str) -> list[str]:
    return ["run", "--codebook", codebook, "--transcripts", transcripts, "--out", out, *more]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory) -> Path:
    """The tiny evaluation with the outputs of a run: what each case copies and then attacks."""
    root = tmp_path_factory.mktemp("earlier")
    codebook, transcripts = write_evaluation(root)
    (transcripts / "coding").mkdir()
    (transcripts / "coding" / "ana.csv").write_text("session_id,code,coder,quote\nS2,monitoring,ana,Weak on outcomes\n",
                                                    encoding="utf-8")
    assert main([str(a) for a in run_args(codebook, transcripts, root / "reports")]) == 0
    return root


@pytest.fixture
def evaluation(earlier, tmp_path) -> tuple[Path, Path, Path]:
    """(codebook, transcripts, reports) of a fresh copy of ``earlier``."""
    shutil.copytree(earlier, tmp_path, dirs_exist_ok=True)
    return tmp_path / "codebook", tmp_path / "transcripts", tmp_path / "reports"


# ------------------------------------------------------------------------------------------------
# 1, 2. The output folder is never an input folder, one that holds one, one inside one, or a file


def test_run_into_the_folder_init_made_deletes_nothing(tmp_path, capsys):
    """The data loss of #21: `init E`, fill it in, `run --out E`."""
    folder = tmp_path / "E"
    init_evaluation(folder)
    codebook, transcripts = write_evaluation(folder)
    (transcripts / "coding" / "ana.csv").write_text("session_id,code,coder,quote\n", encoding="utf-8")
    before = contents(folder)
    code, errors = command(capsys, *run_args(codebook, transcripts, folder))
    assert (code, errors) == (1, [
        f"Error: {folder}: holds {codebook}, the folder given by --codebook; the outputs would be written among "
        f"the inputs (and read as inputs by the next run). Choose an --out folder apart from the inputs, e.g. "
        f"{folder / 'reports'}."])
    assert contents(folder) == before


@pytest.mark.parametrize("where", ["transcripts", "codebook", "transcripts/reports", "codebook/out"])
def test_an_output_folder_that_is_or_lies_in_an_input_folder_is_refused(evaluation, capsys, where):
    codebook, transcripts, reports = evaluation
    out = codebook.parent / where
    before = contents(codebook, transcripts, reports)
    code, errors = command(capsys, *run_args(codebook, transcripts, out))
    given = transcripts if where.startswith("transcripts") else codebook
    option = "--transcripts" if given == transcripts else "--codebook"
    how = f"is the folder given by {option}" if out == given else f"lies inside {given}, the folder given by {option}"
    assert (code, errors) == (1, [
        f"Error: {out}: {how}; the outputs would be written among the inputs (and read as inputs by the next "
        f"run). Choose an --out folder apart from the inputs, e.g. {codebook.parent / 'reports'}."])
    assert contents(codebook, transcripts, reports) == before
    assert not (given / "reports").exists() and not (codebook / "out").exists()


@pytest.mark.parametrize("argv", [
    ["codebook", "render", "--codebook", "{codebook}", "--out", "{codebook}"],
    ["coding", "import", "{transcripts}/coding/ana.csv", "--codebook", "{codebook}", "--transcripts",
     "{transcripts}", "--out", "{transcripts}"],
    ["privacy-scan", "--codebook", "{codebook}", "--transcripts", "{transcripts}", "--out",
     "{transcripts}/findings.csv"],
], ids=["codebook-render", "coding-import", "privacy-scan"])
def test_other_commands_that_write_a_folder_refuse_an_input_folder(evaluation, capsys, argv):
    codebook, transcripts, reports = evaluation
    before = contents(codebook, transcripts, reports)
    code, errors = command(capsys, *[a.format(codebook=codebook, transcripts=transcripts) for a in argv])
    assert code == 1 and len(errors) == 1 and "is the folder given by --" in errors[0]
    assert contents(codebook, transcripts, reports) == before


def test_an_output_path_that_is_a_file_is_refused(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    before = contents(codebook, transcripts, reports)
    for out in (reports / "codings.csv", reports / "codings.csv" / "more"):
        code, errors = command(capsys, *run_args(codebook, transcripts, out))
        what = "is a file" if out.name == "codings.csv" else f"lies under {out.parent}, which is a file"
        assert (code, errors) == (1, [f"Error: {out}: {what}, not a folder; the outputs go into a folder. Choose "
                                      f"another --out folder (a new one is made)."])
    assert contents(codebook, transcripts, reports) == before


def test_outputs_are_pruned_only_in_folders_the_run_marked_as_its_own(tmp_path):
    """Whatever the output folder is, a file the run did not write survives in a folder it did not make."""
    codebook, transcripts = write_evaluation(tmp_path)
    before = contents(tmp_path)
    with StagedOutputs(tmp_path, owned=("transcripts", "reliability.html")) as staged:
        staged.write_text("transcripts/S1.html", "<p>page</p>")
    assert contents(tmp_path) == before | contents(tmp_path / "transcripts" / "S1.html")
    assert not (transcripts / MARKER).exists() and not (tmp_path / MARKER).exists()
    # A folder the run made is its own: what a later run does not write there goes.
    out = tmp_path / "out"
    for pages in (["S1.html", "S2.html"], ["S1.html"]):
        with StagedOutputs(out, owned=("transcripts",), run_id="abc") as staged:
            for page in pages:
                staged.write_text(f"transcripts/{page}", page)
    assert sorted(p.name for p in (out / "transcripts").iterdir()) == [MARKER, "S1.html"]
    assert "(abc)" in (out / "transcripts" / MARKER).read_text(encoding="utf-8")


def test_an_output_folder_of_an_earlier_version_is_pruned_only_of_what_its_manifest_listed(tmp_path):
    """Reports without markers (an earlier version wrote none): the files its manifest lists as
    outputs are the run's; anything else stays, and the folder is not claimed while it does."""
    out = tmp_path / "reports"
    (out / "transcripts").mkdir(parents=True)
    for name in ("transcripts/S1.html", "transcripts/S9.html", "transcripts/notes.txt", "reliability.html"):
        (out / name).write_text("earlier", encoding="utf-8")
    (out / "manifest.json").write_text('{"outputs": ["transcripts/S1.html", "transcripts/S9.html", '
                                       '"reliability.html", "manifest.json"]}', encoding="utf-8")
    with StagedOutputs(out, owned=("transcripts", "reliability.html")) as staged:
        staged.write_text("transcripts/S1.html", "new")
        staged.write_json("manifest.json", {"outputs": ["transcripts/S1.html", "manifest.json"]})
    assert sorted(p.name for p in (out / "transcripts").iterdir()) == ["S1.html", "notes.txt"]
    assert not (out / "reliability.html").exists()
    assert not list(out.rglob(MARKER))  # notes.txt is not the run's: neither folder is claimed
    (out / "transcripts" / "notes.txt").unlink()
    with StagedOutputs(out, owned=("transcripts", "reliability.html")) as staged:
        staged.write_text("transcripts/S1.html", "new")
        staged.write_json("manifest.json", {"outputs": ["transcripts/S1.html", "manifest.json"]})
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob(MARKER)) == [MARKER, f"transcripts/{MARKER}"]


def test_no_output_is_written_through_a_link_to_an_input_folder(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    shutil.rmtree(reports / "transcripts")
    (reports / "transcripts").symlink_to(transcripts, target_is_directory=True)
    before = contents(codebook, transcripts, reports)
    code, errors = command(capsys, *run_args(codebook, transcripts, reports, "--force"))
    assert (code, errors) == (1, [
        f"Error: {reports / 'transcripts'}: leads to {transcripts}, outside the output folder {reports}; outputs "
        f"are not written through it. Remove the link, or choose another --out folder."])
    assert contents(codebook, transcripts, reports) == before


# ------------------------------------------------------------------------------------------------
# 3. A YAML file whose aliases expand without end is refused, fast


@pytest.mark.parametrize("name, text, line, message", [
    ("bomb.yaml", BOMB, 6, "its aliases (*name) expand it to 490,329,064 nodes, more than the 100,000 that aliases "
                           "may add to a file (this one holds 28); it is not read. Write the repeated parts out, or "
                           "repeat fewer of them."),
    ("loop.yaml", "codes: &codes [*codes]\n", 1, "an alias (*name) stands for a node that holds it, so the document "
                                                 "never ends. Remove that alias, or repeat the part it stands for."),
])
@pytest.mark.parametrize("command_name", ["validate", "run"])
def test_a_yaml_alias_bomb_in_the_codebook_is_refused_with_its_file_and_line(evaluation, capsys, name, text, line,
                                                                          message, command_name):
    codebook, transcripts, reports = evaluation
    (codebook / name).write_text(text, encoding="utf-8")
    before = contents(codebook, transcripts, reports)
    argv = ["validate", "--codebook", codebook, "--transcripts", transcripts] if command_name == "validate" \
        else run_args(codebook, transcripts, reports)
    started = time.monotonic()
    code, errors = command(capsys, *argv)
    assert time.monotonic() - started < 30
    assert (code, errors) == (1, [f"Error: {codebook / name}, line {line}: {message}"])
    assert contents(codebook, transcripts, reports) == before


def test_a_yaml_alias_bomb_in_a_transcripts_front_matter_is_refused(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    (transcripts / "s1.txt").write_text("---\n" + BOMB + "session_id: *i\n---\n" + S1, encoding="utf-8")
    before = contents(codebook, transcripts, reports)
    code, errors = command(capsys, "validate", "--codebook", codebook, "--transcripts", transcripts)
    assert code == 1 and errors == [
        f"Error: {transcripts / 's1.txt'}, line 7: has a front matter block that is not read: its aliases (*name) "
        f"expand it to 926,177,115 nodes, more than the 100,000 that aliases may add to a file (this one holds 29); "
        f"it is not read. Write the repeated parts out, or repeat fewer of them."]
    assert contents(codebook, transcripts, reports) == before


# A regex runs in time linear in the text (RE2); what RE2 cannot run is refused on load

LINEAR_CODES = CODES_YAML.replace("en: [design, {regex: '\\brelevant\\b'}]",
                                  "en: [design, {regex: '\\brelevant\\b'}, {regex: '(a+)+$', id: nested},\n"
                                  "          {regex: '(a+)+b', id: nested-b}]")


def test_a_nested_repeat_on_a_long_run_of_one_letter_finishes_and_codes_what_it_matches(tmp_path, capsys):
    # Python's re tries 2**40 ways of cutting the a's before it gives up on '(a+)+$'; RE2 none.
    assert "id: nested-b" in LINEAR_CODES
    codebook, transcripts = write_evaluation(tmp_path, codes=LINEAR_CODES, files={
        "s1.txt": S1, "s2.txt": S2 + "Officer: " + "a" * 40 + "b\n"})
    before = contents(codebook, transcripts)
    code, errors = command(capsys, *run_args(codebook, transcripts, tmp_path / "reports"))
    assert (code, errors) == (0, [])
    codings = pd.read_csv(tmp_path / "reports" / "codings.csv")
    by_rule = codings[codings["source"] == "rule"].groupby("coder")["segment_id"].apply(list).to_dict()
    assert "nested" not in by_rule  # the line ends with "b": '(a+)+$' has no match
    assert by_rule["nested-b"] == ["S2-t0004-s00"]
    assert contents(codebook, transcripts) == before


@pytest.mark.parametrize("pattern, reason", [
    ("(rel)evant \\1", "a backreference (\\1, (?P=name)) cannot run in linear time: write the repeated text "
                        "out, or use two patterns"),
    ("relevant(?= design)", "a lookahead or lookbehind ((?=...), (?<=...)) cannot run in linear time: match the text "
                            "itself (rules widen a match to whole words), or use \\b"),
    ("(?<!not )relevant", "a negative lookahead or lookbehind ((?!...), (?<!...)) cannot run in linear time: leave it "
                          "out and add an exclusion to the code's definition, or use \\b"),
    ("(?>relevant)", "an atomic group ((?>...)) cannot run in RE2: write a plain group (?:...)"),
])
@pytest.mark.parametrize("command_name", ["validate", "run"])
def test_a_regex_that_cannot_run_in_linear_time_is_refused_with_its_file_line_and_fix(evaluation, capsys, pattern,
                                                                                      reason, command_name):
    codebook, transcripts, reports = evaluation
    codes = codebook / "codes.yaml"
    codes.write_text(CODES_YAML.replace("'\\brelevant\\b'", f"'{pattern}'"), encoding="utf-8")
    assert pattern in codes.read_text(encoding="utf-8")
    before = contents(codebook, transcripts, reports)
    argv = ["validate", "--codebook", codebook, "--transcripts", transcripts] if command_name == "validate" \
        else run_args(codebook, transcripts, reports)
    code, errors = command(capsys, *argv)
    assert code == 1 and errors[0] == (  # (then what the code's absence leaves unserved, as for any bad pattern)
        f"Error: {codes}, line 10 (codes[0].patterns.en[1]): the regular expression '{pattern}' is refused: {reason}. "
        f"Correct it (README.md, 'Patterns', shows each kind).")
    assert contents(codebook, transcripts, reports) == before


# ------------------------------------------------------------------------------------------------
# 4. The operating system says no: one line, the path, the fix; earlier outputs intact


def test_a_read_only_output_folder(evaluation, capsys, monkeypatch):
    codebook, transcripts, reports = evaluation
    shutil.rmtree(reports / ".cache")  # so that the parse cache is written first, as in #21
    before = contents(codebook, transcripts, reports)
    real_mkdir = Path.mkdir

    def read_only(self, *args, **kwargs):
        if Path(self).is_relative_to(reports):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, errors = command(capsys, *run_args(codebook, transcripts, reports, "--force"))
    assert code == 1 and len(errors) == 1
    assert errors[0].startswith(f"Error: {reports}/.cache/") and errors[0].endswith(
        ": Read-only file system. It is on a read-only disk: choose a folder on a writable one. "
        "Earlier outputs are unchanged.")
    assert contents(codebook, transcripts, reports) == before


@pytest.mark.parametrize("where", ["cache", "outputs"])
def test_a_full_disk(evaluation, capsys, monkeypatch, where):
    codebook, transcripts, reports = evaluation
    before = contents(codebook, transcripts, reports, cache=False)
    if where == "cache":  # the write of the prepared stage (flow.py), with the path
        def full(path, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        monkeypatch.setattr(memo, "write_atomic", full)
        shutil.rmtree(reports / ".cache" / "prepared")  # so that the stage is prepared, and written, again
        path = f"{reports}/.cache/prepared/"
    else:  # pyarrow's words, without a number or a path: the output folder is named
        def full(self, *args, **kwargs):
            raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")

        monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
        path = f"{reports}: Error writing bytes to file. Detail: [errno 28] No space left on device."
    code, errors = command(capsys, *run_args(codebook, transcripts, reports, "--force"))
    assert code == 1 and len(errors) == 1 and errors[0].startswith(f"Error: {path}")
    assert errors[0].endswith("The disk is full: free some space (or choose a folder on another disk) and run "
                              "again. Earlier outputs are unchanged.")
    assert contents(codebook, transcripts, reports, cache=False) == before
    assert not list(reports.glob(".staging-*")) and not list(reports.glob(".previous-*"))
    assert not list((reports / ".cache").rglob("*.tmp"))


def test_a_report_held_open_by_another_program_leaves_every_earlier_output(evaluation, capsys, monkeypatch):
    """Publishing fails halfway (Excel holds matrices.xlsx): what was already moved is put back."""
    codebook, transcripts, reports = evaluation
    before = contents(codebook, transcripts, reports, cache=False)
    real_replace = os.replace

    def locked(source, target, *args, **kwargs):
        if Path(target) == reports / "matrices.xlsx" or Path(source) == reports / "matrices.xlsx":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(reports / "matrices.xlsx"))
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", locked)
    code, errors = command(capsys, *run_args(codebook, transcripts, reports, "--force"))
    assert (code, errors) == (1, [
        f"Error: {reports / 'matrices.xlsx'}: Permission denied. It may not be written (or read) by you, or another "
        f"program holds it open (a spreadsheet or a document: close it): check its permissions, or choose another "
        f"folder. Earlier outputs are unchanged."])
    assert contents(codebook, transcripts, reports, cache=False) == before
    assert not list(reports.glob(".staging-*")) and not list(reports.glob(".previous-*"))


def test_a_register_with_a_ragged_row(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    (transcripts / "register.csv").write_text(REGISTER.replace("lima,2024-09-02", "lima, Callao,2024-09-02"),
                                              encoding="utf-8")
    before = contents(codebook, transcripts, reports)
    code, errors = command(capsys, *run_args(codebook, transcripts, reports))
    assert (code, errors) == (1, [
        f"Error: {transcripts / 'register.csv'}, row 3: has 9 cells but the header names 8 columns (a value "
        f"holding ',' that is not in double quotes?). Put the value that holds ',' in double quotes (\"Lima, "
        f"Cusco\"), or remove the extra cell."])
    assert contents(codebook, transcripts, reports) == before


# ------------------------------------------------------------------------------------------------
# 5. A respondent line whose label is not read is said, not silently merged


def test_a_speaker_line_whose_label_is_not_read_is_warned_about(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    hostile = S1.replace("E: ¿Y el presupuesto?\n", "E: ¿Y el presupuesto?\n<img src=x onerror=alert(1)>: Nada.\n")
    (transcripts / "s1.txt").write_text(hostile, encoding="utf-8")
    before = contents(codebook, transcripts, reports)
    assert main(["validate", "--codebook", str(codebook), "--transcripts", str(transcripts)]) == 0
    assert (f"Warning: {transcripts / 's1.txt'}, line 6: '<img src=x onerror=alert(1)>:' starts the line like a "
            f"speaker label but is not read as one, so the line is read as part of the turn of 'E' (line 5). If "
            f"someone else speaks there, write the label with letters and digits (e.g. 'P2:', a timestamp as "
            f"[00:01:02] before it); if it is speech, replace the colon.") in capsys.readouterr().err
    assert contents(codebook, transcripts, reports) == before


def test_validate_shows_what_each_lemma_phrase_matches_on(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    before = contents(codebook, transcripts, reports)
    assert main(["validate", "--codebook", str(codebook), "--transcripts", str(transcripts), "--patterns"]) == 0
    printed = capsys.readouterr().out
    # The tiny evaluation reads Spanish with a blank pipeline's lookup lemmas: "trabajo" is "trabajar".
    assert printed.split("No problems found.")[1].split("\n")[4:] == [
        "What each lemma phrase matches on (folded lemmas; a one-word phrase, the word as written too):",
        "  es  design_needs  'diseño': disenar, or the word 'diseño'",
        "  es  coordination  'mesa de trabajo': mesar de trabajar",
        "  en  design_needs  'design': design, or the word 'design'",
        "  en  monitoring  'monitoring': monitor, or the word 'monitoring'", ""]
    assert contents(codebook, transcripts, reports) == before


# ------------------------------------------------------------------------------------------------
# 6. Markup from the inputs reaches no Markdown report raw

HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) **loud**"


def test_markup_in_a_quote_and_a_code_label_reaches_the_markdown_reports_as_text(tmp_path, capsys):
    codebook, transcripts = write_evaluation(
        tmp_path, codes=CODES_YAML.replace("label: Monitoring", f"label: '{HOSTILE}'"),
        files={"s1.txt": S1, "s2.txt": S2.replace("Very relevant, I think.", f"Very relevant, I think. {HOSTILE}")})
    (codebook / "findings.yaml").write_text(TINY_FINDINGS, encoding="utf-8")
    before = contents(codebook, transcripts)
    out = tmp_path / "reports"
    code, errors = command(capsys, *run_args(codebook, transcripts, out, "--privacy", "off"))
    assert (code, errors) == (0, [])
    escaped = ("\\<script\\>alert(1)\\</script\\> \\<img src=x onerror=alert(2)\\> \\[click](javascript:alert(3)) "
               "\\*\\*loud\\*\\*")
    for name in ("triangulation_report.md", "codebook.md", "findings_annex.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert escaped in text, name  # the quote (or the label) is there, as text
        assert not re.search(r"(?<!\\)<(script|img)|(?<!\\)\[click|(?<![\\*])\*\*loud", text), name  # none unescaped
    assert "### `monitoring` " + escaped in (out / "codebook.md").read_text(encoding="utf-8")
    # HTML was escaped already, and stays so.
    assert "<script>alert(1)" not in (out / "triangulation_report.html").read_text(encoding="utf-8")
    assert contents(codebook, transcripts) == before


# ------------------------------------------------------------------------------------------------
# 7. Links are treated like what they stand for


def test_a_register_entry_linking_outside_the_transcripts_folder_is_refused(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    outside = codebook.parent / "elsewhere.txt"
    outside.write_text(S2, encoding="utf-8")
    (transcripts / "s2.txt").unlink()
    (transcripts / "s2.txt").symlink_to(outside)
    before = contents(codebook, transcripts, reports, outside)
    code, errors = command(capsys, *run_args(codebook, transcripts, reports))
    assert (code, errors) == (1, [
        f"Error: {transcripts / 'register.csv'}, row 3: the file 's2.txt' is a link to {outside}, outside the "
        f"transcripts folder. Copy the transcript into the folder instead of linking to it."])
    assert contents(codebook, transcripts, reports, outside) == before


def test_a_linked_folder_holding_an_unregistered_transcript_is_an_error_as_a_real_one_is(evaluation, capsys):
    codebook, transcripts, reports = evaluation
    linked = codebook.parent / "more"
    linked.mkdir()
    (linked / "s3.txt").write_text(S1, encoding="utf-8")
    (transcripts / "more").symlink_to(linked, target_is_directory=True)
    (transcripts / "loop").symlink_to(transcripts, target_is_directory=True)  # a link back up is not followed
    before = contents(codebook, transcripts, reports, linked)
    code, errors = command(capsys, *run_args(codebook, transcripts, reports))
    assert (code, errors) == (1, [
        f"Error: {transcripts / 'more' / 's3.txt'}: is a transcript that is not in the register. Add a row for it "
        f"to register.csv, or move it out of the folder."])
    assert contents(codebook, transcripts, reports, linked) == before


# ------------------------------------------------------------------------------------------------
# 9. A privacy finding in a .vtt is found where the message says; the fix names its placeholder

CALL = """WEBVTT

1
00:00:01.000 --> 00:00:04.000
<v Interviewer>Thanks for joining. How relevant was the project?</v>

2
00:00:05.000 --> 00:00:09.000
<v Officer>Very relevant. Call me on 987 654 321 if you need more.</v>
"""


@pytest.mark.parametrize("command_name", ["run", "privacy-scan"])
def test_a_finding_in_an_extracted_text_points_to_that_text_written_out(evaluation, capsys, command_name):
    codebook, transcripts, reports = evaluation
    (transcripts / "s2.txt").unlink()
    (transcripts / "s2.vtt").write_text(CALL, encoding="utf-8")
    (transcripts / "register.csv").write_text(REGISTER.replace("s2.txt", "s2.vtt"), encoding="utf-8")
    before = contents(codebook, transcripts, reports, cache=False)
    if command_name == "run":
        code = main([str(a) for a in run_args(codebook, transcripts, reports)])
    else:
        code = main(["privacy-scan", "--codebook", str(codebook), "--transcripts", str(transcripts),
                     "--out", str(reports / "privacy_findings.csv")])
    printed = "".join(capsys.readouterr())  # run's errors on stderr; privacy-scan's findings on stdout
    assert code == 1 and "Traceback" not in printed
    written = reports / ".cache" / "extracted" / "s2.vtt.txt"
    line = re.search(rf"{re.escape(str(transcripts / 's2.vtt'))}, line (\d+), column (\d+) of the text extracted "
                     rf"from it, written to {re.escape(str(written))} \(offsets \d+-\d+\): a phone number \(phone, "
                     rf"found by [^)]*\) in session S2\. Replace it with the placeholder \[TELEFONO\] in the "
                     rf"transcript, or add the term to privacy.allowlist in evaluation.yaml if it is not personal\.",
                     printed)
    assert line, printed
    number, column = int(line.group(1)), int(line.group(2))
    assert written.read_text(encoding="utf-8").split("\n")[number - 1][column - 1:].startswith("987 654 321")
    if command_name == "run":  # a blocked run: every earlier output as it was
        assert contents(codebook, transcripts, reports, cache=False) == before
    else:  # privacy-scan writes its findings (and the folder's marker), nothing else
        after = contents(codebook, transcripts, reports, cache=False)
        assert after.pop(str(reports / "privacy_findings.csv")) and after.pop(str(reports / MARKER))
        assert after == {k: v for k, v in before.items() if k != str(reports / MARKER)}


# ------------------------------------------------------------------------------------------------
# 9. The scaffold's placeholder title does not pass without a word


def test_the_placeholder_title_of_init_is_warned_about(tmp_path, capsys):
    folder = tmp_path / "E"
    init_evaluation(folder)
    config = folder / "codebook" / "evaluation.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "questions: []", "questions:\n  - id: EQ1\n    criterion: relevance\n    text: Was it relevant?"),
        encoding="utf-8")
    (folder / "codebook" / "codes.yaml").write_text(
        "codes:\n  - id: fit\n    label: Fit\n    definition: Fit to needs.\n    include: Fit.\n"
        "    exclude: Results.\n    examples: [It fitted.]\n    questions: [EQ1]\n", encoding="utf-8")
    register = folder / "transcripts" / "register.csv"
    register.write_text(register.read_text(encoding="utf-8") + "s1.txt,S1,interview,donor,en,1,,,,,,,\n",
                        encoding="utf-8")
    (folder / "transcripts" / "s1.txt").write_text("Interviewer: Was it relevant?\nDonor: Yes, it fitted.\n")
    before = contents(folder)
    assert main(["validate", "--codebook", str(folder / "codebook"), "--transcripts", str(folder / "transcripts")]) == 0
    line = config.read_text(encoding="utf-8").split("\n").index(
        '  title: {es: "Evaluación final de ...", en: "Final evaluation of ..."}') + 1
    assert (f"Warning: {config}, line {line} (evaluation.title): the title is still the placeholder that init wrote "
            f"('Final evaluation of ...'); every report is headed by it. Write the evaluation's own title."
            ) in capsys.readouterr().err
    assert contents(folder) == before
