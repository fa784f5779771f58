"""Reruns: nothing is redone when nothing changed; a codebook edit does not refit the model."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pandas as pd
import pytest

from pipeline import commands, flow
from pipeline.stages.coding import learned as learn
from pipeline.runtime.cache import JsonCache, PickleCache, TableCache
from pipeline.runtime.parallel import Workers
from pipeline.seams import NO_CACHE, cache_key

from conftest import S1, S2, write_evaluation


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".cache" not in p.parts}


def add_design_pattern(codebook, word: str):
    """Add a Spanish lemma phrase to the tiny codebook's first code; returns the code file."""
    path = codebook / "codes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("es: [diseño]", f"es: [diseño, {word}]"),
                    encoding="utf-8")
    return path


def test_a_rerun_after_a_pattern_edit_does_not_import_scikit_learn(tiny, tmp_path):
    codebook, transcripts = tiny
    flow.run(codebook, transcripts, tmp_path / "reports")
    add_design_pattern(codebook, "necesidad")
    # The rerun in a fresh interpreter (this one has imported scikit-learn for other tests):
    # the model's suggestions come from the cache, so nothing needs scikit-learn or SciPy.
    script = ("import sys; from pipeline import cli, flow; "
              "result = flow.run(sys.argv[1], sys.argv[2], sys.argv[3]); assert not result.up_to_date; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))")
    done = subprocess.run([sys.executable, "-c", script, str(codebook), str(transcripts), str(tmp_path / "reports")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unchanged_rerun_redoes_nothing_and_rewrites_nothing(tiny, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    first = flow.run(*tiny, out)
    before = digests(out)
    for stage in ("load_codebook", "read_transcripts", "build_segments", "code_segments", "build_reports"):
        monkeypatch.setattr(flow, stage, lambda *a, stage=stage, **k: pytest.fail(f"{stage} ran again"))
    second = flow.run(*tiny, out)
    assert second.up_to_date and not first.up_to_date
    assert second.counts == json.loads(json.dumps(first.counts)) and second.outputs == first.outputs
    assert digests(out) == before


@pytest.mark.parametrize("change", ["transcript", "code", "register", "policy", "missing output"])
def test_any_change_to_what_a_run_reads_runs_it_again(tiny, tmp_path, change):
    codebook, transcripts = tiny
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out)
    policy = None
    if change == "transcript":
        with (transcripts / "s2.txt").open("a", encoding="utf-8") as handle:
            handle.write("Officer: One more thing.\n")
    elif change == "code":
        path = add_design_pattern(codebook, "necesidad")
    elif change == "register":
        path = transcripts / "register.csv"
        path.write_text(path.read_text(encoding="utf-8").replace("2024-09-02", "2024-09-03"), encoding="utf-8")
    elif change == "policy":
        policy = "redact"
    else:
        (out / "codings.csv").unlink()
    assert not flow.run(codebook, transcripts, out, privacy_policy=policy).up_to_date
    assert (out / "codings.csv").is_file()


def test_a_transcript_replaced_by_a_link_or_a_linked_folder_is_a_change(tiny, tmp_path):
    """The register checks links (one out of the folder is refused): a rerun must not skip that."""
    codebook, transcripts = tiny
    stamp = lambda: flow._fingerprint(codebook, transcripts, tmp_path / "reports", None, None)
    before = stamp()
    copy = tmp_path / "s2.txt"
    copy.write_bytes((transcripts / "s2.txt").read_bytes())
    (transcripts / "s2.txt").unlink()
    (transcripts / "s2.txt").symlink_to(copy)
    linked = stamp()
    (tmp_path / "more").mkdir()
    (transcripts / "more").symlink_to(tmp_path / "more", target_is_directory=True)
    assert len({before, linked, stamp()}) == 3


def test_hidden_files_are_not_inputs_and_force_runs_anyway(tiny, tmp_path):
    out = tmp_path / "reports"
    flow.run(*tiny, out)
    (tiny[1] / ".~lock.register.csv#").write_text("editor lock", encoding="utf-8")
    assert flow.run(*tiny, out).up_to_date
    assert not flow.run(*tiny, out, force=True).up_to_date


def test_editing_a_codes_patterns_does_not_refit_the_model(tiny, tmp_path, monkeypatch):
    codebook, transcripts = tiny
    out = tmp_path / "reports"
    calls = []

    def fake_suggest(segments, codings, **kwargs):
        calls.append(len(segments))
        first = segments.iloc[0]
        return [{"segment_id": first.segment_id, "session_id": first.session_id, "code": "monitoring",
                 "source": "model", "coder": "segment-coder", "start": int(first.start), "end": int(first.end),
                 "match": "", "confidence": 0.75, "negated": False, "status": "suggested", "memo": ""}]

    monkeypatch.setattr(learn, "suggest_codes", fake_suggest)
    flow.run(codebook, transcripts, out)
    path = add_design_pattern(codebook, "necesidad")
    result = flow.run(codebook, transcripts, out)
    assert not result.up_to_date and calls == [4]
    codings = pd.read_csv(out / "codings.csv")
    assert codings.loc[codings["source"] == "model", "confidence"].tolist() == [0.75]
    # A change to what the model learns from (a code's examples) refits it.
    path.write_text(path.read_text(encoding="utf-8").replace("We counted trainings", "We only counted trainings"),
                    encoding="utf-8")
    flow.run(codebook, transcripts, out)
    assert calls == [4, 4]


def test_reliability_is_computed_again_only_when_the_human_coding_changes(tiny, tmp_path, monkeypatch):
    codebook, transcripts = tiny
    (transcripts / "coding").mkdir()
    coding = transcripts / "coding" / "double.csv"
    coding.write_text("session_id,code,coder,quote\n"
                      "S1,coordination,A,con las mesas de trabajo\nS1,coordination,B,con las mesas de trabajo\n"
                      "S2,monitoring,A,Weak on outcomes\nS2,design_needs,B,Weak on outcomes\n", encoding="utf-8")
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out)
    before = (out / "reliability.json").read_bytes()
    calls = []
    real = flow.measure_reliability
    monkeypatch.setattr(flow, "measure_reliability", lambda *a, **k: calls.append(1) or real(*a, **k))
    add_design_pattern(codebook, "necesidad")
    assert not flow.run(codebook, transcripts, out).up_to_date
    assert calls == [] and (out / "reliability.json").read_bytes() == before
    coding.write_text(coding.read_text(encoding="utf-8").replace("S2,design_needs,B", "S2,monitoring,B"),
                      encoding="utf-8")
    flow.run(codebook, transcripts, out)
    assert calls == [1] and (out / "reliability.json").read_bytes() != before
    # Another version of the package that computes alpha measures again.
    monkeypatch.setattr(flow, "_version", lambda package: "9.9" if package == "krippendorff" else "1.0")
    flow.run(codebook, transcripts, out, force=True)
    assert calls == [1, 1]


def test_a_damaged_cached_value_is_computed_again(tmp_path):
    cache = JsonCache(tmp_path)
    assert cache.get_or_compute("k", lambda: {"alpha": 0.5, "units": [1, None]}) == {"alpha": 0.5, "units": [1, None]}
    assert cache.get_or_compute("k", lambda: pytest.fail("computed again")) == {"alpha": 0.5, "units": [1, None]}
    (tmp_path / "k.json").write_bytes(b"\xff{garbage")
    assert cache.get_or_compute("k", lambda: {"alpha": 1.0}) == {"alpha": 1.0}


def test_a_damaged_cached_table_is_computed_again(tmp_path):
    cache = TableCache(tmp_path)
    frame = pd.DataFrame({"a": [1, 2]})
    assert cache.get_or_compute("k", lambda: frame).equals(frame)
    (tmp_path / "k.parquet").write_bytes(b"garbage")
    assert cache.get_or_compute("k", lambda: frame.assign(a=[3, 4]))["a"].tolist() == [3, 4]
    assert TableCache(None).get_or_compute("k", lambda: frame).equals(frame)


def test_a_pickle_cache_of_the_latest_entry_only_keeps_one_and_a_damaged_one_is_computed_again(tmp_path):
    cache = PickleCache(tmp_path, latest_only=True)
    assert cache.get_or_compute("a", lambda: {"frame": pd.DataFrame({"a": [1]})})["frame"]["a"].tolist() == [1]
    cache.put("b", ("b", 2))
    assert [p.name for p in tmp_path.iterdir()] == ["b.pickle"] and cache.get("a") is None and cache.get("b") == ("b", 2)
    (tmp_path / "b.pickle").write_bytes(b"\x80\x05garbage")
    assert cache.get_or_compute("b", lambda: "again") == "again"
    everything = PickleCache(tmp_path / "all")
    everything.put("a", 1)
    everything.put("b", 2)
    assert (everything.get("a"), everything.get("b")) == (1, 2)
    assert PickleCache(None).get_or_compute("a", lambda: 3) == 3 and PickleCache(None).get("a") is None


def test_no_cache_computes_every_time_and_keys_follow_what_a_value_is_computed_from():
    calls = []
    assert [NO_CACHE.get_or_compute("k", lambda: calls.append(1) or len(calls)) for _ in range(2)] == [1, 2]
    NO_CACHE.put("k", 3)
    assert NO_CACHE.get("k") is None
    frame = pd.DataFrame({"text": ["a", "b"]})
    assert cache_key(frame, 0) == cache_key(frame.copy(), 0)
    assert len({cache_key(frame, 0), cache_key(frame, 1), cache_key(frame.iloc[::-1], 0),
                cache_key(frame.rename(columns={"text": "other"}), 0)}) == 4


def test_editing_a_codes_patterns_reruns_the_coding_stage_only(tiny, tmp_path, monkeypatch):
    codebook, transcripts = tiny
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out)
    for module, stage in ((flow, "read_transcripts"), (flow, "build_turns"), (commands, "read_human_coding"),
                          (flow, "build_segments")):
        monkeypatch.setattr(module, stage, lambda *a, stage=stage, **k: pytest.fail(f"{stage} ran again"))
    add_design_pattern(codebook, "taller")
    flow.run(codebook, transcripts, out)
    codings = pd.read_csv(out / "codings.csv")
    assert "taller" in " ".join(codings["match"].dropna()).lower()


def test_a_changed_code_label_or_transcript_prepares_again(tiny, tmp_path, monkeypatch):
    codebook, transcripts = tiny
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out)
    calls = []
    real = flow.build_segments
    monkeypatch.setattr(flow, "build_segments", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = codebook / "codes.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("label: Monitoring", "label: Monitoreo"), encoding="utf-8")
    flow.run(codebook, transcripts, out)
    with (transcripts / "s2.txt").open("a", encoding="utf-8") as handle:
        handle.write("Officer: One more thing.\n")
    flow.run(codebook, transcripts, out)
    assert calls == [1, 1]
    assert len(list((out / ".cache" / "prepared").glob("*.pickle"))) == 1


def test_the_prepared_stage_keeps_its_warnings(tmp_path):
    codebook, transcripts = write_evaluation(tmp_path, files={
        "s1.txt": "Informe sin etiquetas de hablante.", "s2.txt": "Interviewer: Hi?\nOfficer: Hello.\n"})
    out = tmp_path / "reports"
    first = flow.run(codebook, transcripts, out)
    second = flow.run(codebook, transcripts, out, force=True)
    assert first.warnings and second.warnings == first.warnings


def test_a_redacted_run_caches_no_identifying_text(tmp_path):
    planted = "F: Mi celular es 987 654 321 y mi correo ana.perez@gmail.com.\n"
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1 + planted, "s2.txt": S2})
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out, privacy_policy="redact")
    cached = b"".join(p.read_bytes() for p in (out / ".cache").rglob("*") if p.is_file())
    assert b"ana.perez" not in cached and b"987 654 321" not in cached
    assert flow.run(codebook, transcripts, out, privacy_policy="redact", force=True).counts


def test_a_report_of_an_earlier_policy_does_not_stay_behind(tmp_path):
    planted = "F: Mi celular es 987 654 321.\n"
    codebook, transcripts = write_evaluation(tmp_path, files={"s1.txt": S1 + planted, "s2.txt": S2})
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out, privacy_policy="redact")
    assert (out / "redaction_log.csv").is_file()
    flow.run(codebook, transcripts, out, privacy_policy="off")
    assert not (out / "redaction_log.csv").exists()


def test_regex_matches_are_kept_per_text_and_only_new_patterns_scan_it(tmp_path):
    import spacy

    from pipeline.runtime.cache import JsonCache
    from pipeline.stages.coding.rule_cache import RegexCache
    from pipeline.stages.coding.rules import matcher_of

    class Counted:
        """A compiled regex that records each scan."""

        def __init__(self, regex, calls):
            self.pattern, self.regex, self.calls = regex.pattern, regex, calls

        def spans(self, text):
            self.calls.append(self.pattern)
            return self.regex.spans(text)

    calls = []
    matcher = matcher_of(spacy.blank("es"), [{"label": "c", "pattern": {"REGEX": r"\bmesa\b"}, "id": "p1"}])
    matcher.regexes = [(rule, Counted(regex, calls)) for rule, regex in matcher.regexes]
    cache = RegexCache(JsonCache(tmp_path / "regex"))
    text = "la mesa y otra mesa"
    assert cache.matches(matcher, text) == [(3, 7, "c", "p1"), (15, 19, "c", "p1")]
    matcher.add_patterns([{"label": "d", "pattern": {"REGEX": r"\botra\b"}, "id": "p2"}])
    matcher.regexes[1:] = [(rule, Counted(regex, calls)) for rule, regex in matcher.regexes[1:]]
    assert cache.matches(matcher, text)[-1] == (10, 14, "d", "p2")
    assert calls == [r"\bmesa\b", r"\botra\b"]  # the first pattern did not scan the text again
    assert cache.matches(matcher, text) and calls == [r"\bmesa\b", r"\botra\b"]


def test_the_command_line_says_when_nothing_changed_and_force_reruns(tiny, tmp_path, capsys):
    from pipeline.cli import main

    argv = ["run", "--codebook", str(tiny[0]), "--transcripts", str(tiny[1]), "--out", str(tmp_path / "r")]
    assert main(argv) == 0 and "Run complete." in capsys.readouterr().out
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "its outputs are up to date" in printed and "questions     " in printed
    assert main([*argv, "--force"]) == 0 and "Run complete." in capsys.readouterr().out


def test_regex_scans_in_worker_processes_fill_the_same_cache(tmp_path):
    from pipeline.config.codebook import load_codebook
    from pipeline.nlp.pipelines import load_pipeline
    from pipeline.runtime.cache import JsonCache
    from pipeline.stages.coding.rule_cache import RegexCache
    from pipeline.stages.coding.rules import codebook_patterns, matcher_of

    from conftest import SAMPLE_CODEBOOK

    matcher = matcher_of(load_pipeline("es", None), codebook_patterns(load_codebook(SAMPLE_CODEBOOK), "es"))
    texts = [("es", f"La policía {n} hizo operativos con la fiscalía; copia {n}.") for n in range(12)]
    one, two = RegexCache(JsonCache(tmp_path / "one")), RegexCache(JsonCache(tmp_path / "two"))
    assert one.fill({"es": matcher}, texts) == 12
    assert two.fill({"es": matcher}, texts, parallel=Workers(2)) == 12
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert len(files) == 12 and files == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert two.fill({"es": matcher}, texts, parallel=Workers(2)) == 0  # all cached: nothing scanned
    assert [m for _, t in texts for m in two.matches(matcher, t)] == [m for _, t in texts for m in one.matches(matcher, t)]


def test_after_a_codebook_edit_only_the_new_pattern_is_matched_and_only_where_it_may_match(tiny, tmp_path,
                                                                                            monkeypatch):
    from pipeline.stages.coding import rule_coder as coding

    codebook, transcripts = tiny
    out = tmp_path / "reports"
    flow.run(codebook, transcripts, out)
    built = []  # the rules of each code patterns' matcher made (None: all)
    real = coding.codebook_patterns

    def recording(book, language, rules=None):
        built.append(rules)
        return real(book, language, rules=rules)

    monkeypatch.setattr(coding, "codebook_patterns", recording)
    add_design_pattern(codebook, "taller")  # "talleres" is in the Spanish session
    flow.run(codebook, transcripts, out)
    assert built and set(built) == {frozenset({"design_needs|design_needs:es1"})}  # the new pattern alone
    fresh = tmp_path / "fresh"
    flow.run(codebook, transcripts, fresh)
    assert (out / "codings.csv").read_bytes() == (fresh / "codings.csv").read_bytes()
    assert "taller" in (out / "codings.csv").read_text(encoding="utf-8").lower()
    # A phrase whose words no session holds: no parsed document is read, and nothing is found.
    monkeypatch.setattr(coding, "parsed_docs", lambda *a, **k: pytest.fail("a session was read again"))
    codes = codebook / "codes.yaml"
    codes.write_text(codes.read_text(encoding="utf-8").replace("es: [diseño, taller]", "es: [diseño, taller, inexistente]"),
                     encoding="utf-8")
    built.clear()
    assert not flow.run(codebook, transcripts, out).up_to_date
    assert set(built) == {frozenset({"design_needs|design_needs:es2"})}
    monkeypatch.undo()
    monkeypatch.setattr(coding, "codebook_patterns", recording)
    flow.run(codebook, transcripts, fresh)
    assert (out / "codings.csv").read_bytes() == (fresh / "codings.csv").read_bytes()
    # A damaged cache entry is matched again, with every pattern.
    for entry in (out / ".cache" / "rules").iterdir():
        entry.write_text("{not json", encoding="utf-8")
    built.clear()
    flow.run(codebook, transcripts, out, force=True)
    assert built and set(built) == {None}
    assert (out / "codings.csv").read_bytes() == (fresh / "codings.csv").read_bytes()


def test_a_stance_vocabulary_edit_judges_every_session_again(tmp_path):
    # S3 holds none of the codes' words, so no pattern may match there; its segment is coded
    # by a person without a stance, so the lexicon judges it, and the edit changes that.
    from conftest import CODES_YAML, REGISTER, S1, S2

    # Token patterns may match anywhere: without them a session can have no possible pattern.
    codes = CODES_YAML.replace(", {tokens: [{LEMMA: coordinación}], id: coord-token}]", "]") \
                      .replace(', {tokens: [{LOWER: outcome}, {LOWER: indicators, OP: "?"}]}]', "]")
    assert "tokens" not in codes
    files = {"s1.txt": S1, "s2.txt": S2, "s3.txt": "Interviewer: How was it?\nOfficer: It was useful for us.\n",
             "coding/a.csv": "session_id,code,coder,quote\nS3,monitoring,A,It was useful for us.\n"}
    codebook, transcripts = write_evaluation(
        tmp_path, files=files, codes=codes, register=REGISTER + "s3.txt,S3,interview,donor,en,1,lima,2024-09-03\n")
    out, fresh = tmp_path / "reports", tmp_path / "fresh"
    flow.run(codebook, transcripts, out)
    assert "useful" not in (codebook / "stance.yaml").read_text(encoding="utf-8")
    stance = codebook / "stance.yaml"
    stance.write_text(stance.read_text(encoding="utf-8").replace("[helpful,", "[useful, helpful,"), encoding="utf-8")
    flow.run(codebook, transcripts, out)
    flow.run(codebook, transcripts, fresh)
    codings = pd.read_csv(out / "codings.csv")
    assert codings.loc[codings["session_id"] == "S3", "stance"].tolist() == ["positive"]
    assert (out / "codings.csv").read_bytes() == (fresh / "codings.csv").read_bytes()
