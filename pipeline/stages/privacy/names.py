"""Person names: the allowlist of what is not personal, the spaCy NER of each language (its
``ner`` component loaded alone), the candidate words it is run on, and the private names file.

NER is the costly part and, on interview speech, a noisy one, so it runs only on sentences
holding a candidate: a capitalised word that is not a stop word of the text's language (nor of
Spanish or English, which interviews mix in), not allowlisted, and never written in lower case
anywhere in the evaluation's texts (:func:`lowercase_vocabulary`). Each text is read by the NER
of its own language; a language with no trained pipeline has no NER, and there two or more
candidate words side by side ("Mette Kjærgaard") are taken for a name.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pipeline.errors import ModelError
from pipeline.text import fold_one_for_one
from pipeline.stages.privacy.folding import _CONNECTORS, _LOWER, _UPPER, _WORD
from pipeline.stages.privacy.hits import Hit

# A capitalised word (not all capitals: acronyms and shouted labels are left to the patterns).
_CAPITALISED = re.compile(rf"(?<![\w'’-])[{_UPPER}][{_LOWER}]+(?:['’-]?[{_UPPER}]?[{_LOWER}]+)*(?!\w)")
_SENTENCE = re.compile(r"[^.!?…\n]+[.!?…]*")
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]{1,40}\]")
# A run of non-spaces holding "@", "/" or a dot inside a word: tried at the start of each run
# only (as "\S*(?:@|/|\w\.\w)\S*", tried at every character, it took 1.5 s at 10x, now 0.3).
_ADDRESS_LIKE = re.compile(r"(?<!\S)(?=\S*(?:@|/|\w\.\w))\S+")
_NEXT_CAPITALISED = re.compile(rf"[ \t]+(?:(?:de|del|de la)[ \t]+)?[{_UPPER}][{_LOWER}]")
_CONTEXT = 60  # characters of context either side of a candidate name given to NER


# ---------------------------------------------------------------------------------------------
# Stop words and the allowlist


@functools.lru_cache(maxsize=None)
def _stop_words(language: str = "") -> frozenset[str]:
    """spaCy's stop words of ``language`` (if spaCy has them) and, for every language, Spanish
    and English ones, folded: words never taken for a name."""
    import importlib

    from spacy.lang.en.stop_words import STOP_WORDS as EN
    from spacy.lang.es.stop_words import STOP_WORDS as ES

    words = set(ES | EN)
    if language and language.isalpha():
        try:
            words |= importlib.import_module(f"spacy.lang.{language}.stop_words").STOP_WORDS
        except ImportError:
            pass  # spaCy has no stop words for it: Spanish and English ones only
    return frozenset(fold_one_for_one(w) for w in words)


def allowlist_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """Allowlist entries split into terms: a label such as 'Sector justicia (Ministerio Público,
    Poder Judicial, PNP)' allows each of its parts."""
    out = set()
    for term in terms:
        for part in re.split(r"[(),;/]| - | y | and ", str(term)):
            part = part.strip(" .:-")
            if len(part) >= 2:
                out.add(fold_one_for_one(part))
    return tuple(sorted(out, key=len, reverse=True))


def _by_first_character(terms: tuple[str, ...]) -> str:
    """An alternation of ``terms`` that tries, at each position, only the terms starting with
    its character, in their order: it matches what ``t1|t2|...`` matches (a match starts with
    one character), and the regex engine does not try every term at every word."""
    groups: dict[str, list[str]] = {}
    for term in terms:
        groups.setdefault(term[0], []).append(re.escape(term[1:]))
    return "|".join(re.escape(first) + "(?:" + "|".join(rests) + ")" for first, rests in groups.items())


class _Allowed:
    """Where allowlisted terms occur in a text (folded, whole words)."""

    def __init__(self, terms: tuple[str, ...]):
        self.terms = set(terms)
        self.pattern = re.compile(r"(?<!\w)(?:" + _by_first_character(terms) + r")(?!\w)") if terms else None

    def spans(self, folded: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.pattern.finditer(folded)] if self.pattern else []

    def covers(self, spans: list[tuple[int, int]], folded: str, start: int, end: int) -> bool:
        """Whether ``start:end`` is an allowlisted term, or lies within allowlisted occurrences
        (several terms side by side count: 'Zoom WhatsApp')."""
        if folded[start:end].strip(" .,;:") in self.terms:
            return True
        if any(a <= start and end <= b for a, b in spans):
            return True
        words = [m.span() for m in _WORD.finditer(folded, start, end) if m.group() not in _CONNECTORS]
        return bool(words) and all(any(a <= w0 and w1 <= b for a, b in spans) for w0, w1 in words)


# ---------------------------------------------------------------------------------------------
# The NER model


@dataclass
class _Ner:
    """The spaCy NER of a trained pipeline, loaded alone."""

    model: str
    batch_size: int = 64
    language: str = "es"

    @functools.cached_property
    def nlp(self):
        return _load_ner(self.model, self.language)

    def persons(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        return [[(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("PER", "PERSON")]
                for doc in self.nlp.pipe(texts, batch_size=self.batch_size)]


@functools.lru_cache(maxsize=None)
def _load_ner(model: str, language: str):
    import spacy

    from pipeline.nlp.speedups import with_numpy_blas

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\[W095\]")
        try:
            names = spacy.util.get_model_meta(spacy.util.get_package_path(model))["pipeline"]
        except (OSError, ModuleNotFoundError, KeyError):
            raise ModelError(f"the spaCy model '{model}' (for language '{language}') is not installed. Run "
                             f"`make install`, or change nlp.models in evaluation.yaml.") from None
        # Only the entity recogniser; its own embedding layer if it has one, else the shared tok2vec.
        nlp = spacy.load(model, exclude=[n for n in names if n != "ner"])
        if any(node.name.startswith("tok2vec-listener") for node in nlp.get_pipe("ner").model.walk()):
            nlp = spacy.load(model, exclude=[n for n in names if n not in ("ner", "tok2vec")])
    return with_numpy_blas(nlp)


def release_models() -> None:
    """Let go of the NER models the scans loaded (:func:`_load_ner`), once scanning is done:
    workers forked later would each count them too. A later scan loads them again."""
    _load_ner.cache_clear()


# ---------------------------------------------------------------------------------------------
# Candidates, and the names NER finds among them


def _candidates(text: str, folded: str, allowed: list[tuple[int, int]], *, stop_words: frozenset[str],
                vocabulary: frozenset[str]) -> list[tuple[int, int]]:
    """The spans of the candidate names in ``text`` (``folded`` its folded form, ``allowed`` the
    spans of allowlisted terms in it): capitalised words that are not stop words, not in
    ``vocabulary``, not allowlisted, not in a placeholder, and not alone at a sentence's start."""
    placeholders = [m.span() for m in _PLACEHOLDER.finditer(text)]
    found = []
    for match in _CAPITALISED.finditer(text):
        word = folded[match.start():match.end()].strip("'’-")
        if word in stop_words or word in vocabulary or word in _CONNECTORS:
            continue
        span = match.span()
        if any(a <= span[0] and span[1] <= b for a, b in allowed + placeholders):
            continue
        # The first word of a sentence, a line or a turn is capitalised anyway: alone there
        # ("Muchísimas gracias", "Kaypi", a label such as "Secretario técnico:") it is not
        # taken for a name; followed by another capitalised word ("María Quispe dijo") it is.
        if _sentence_initial(text, span[0]) and not _NEXT_CAPITALISED.match(text, span[1]):
            continue
        found.append(span)
    return found


def _person_names(ners: dict[str, _Ner], texts: list[str], languages: list[str], folded_texts: list[str],
                  allowed_spans: list[list[tuple[int, int]]], *, allowlist: _Allowed,
                  vocabulary: frozenset[str]) -> list[list[Hit]]:
    """Person names in each of ``texts``, found around its candidate words: by the NER of the
    text's language (``ners``: language -> NER), run only on the sentences that hold a candidate,
    or, where the language has none, in the runs of candidates side by side
    (:func:`_candidate_runs`). ``languages``, ``folded_texts`` and ``allowed_spans`` are each
    text's language, folded form and the spans of ``allowlist``'s terms in it."""
    out: list[list[Hit]] = [[] for _ in texts]
    # Per language: (text index, piece start, piece, candidates, allowed spans, folded text).
    pieces: dict[str, list] = {}
    for index, (text, language, folded, allowed) in enumerate(zip(texts, languages, folded_texts, allowed_spans)):
        candidates = _candidates(text, folded, allowed, stop_words=_stop_words(language), vocabulary=vocabulary)
        if not candidates:
            continue
        if language not in ners:
            out[index] = [Hit(start, end, "name", "CandidateRunRecognizer", 0.5)
                          for start, end in _candidate_runs(text, candidates)
                          if not allowlist.covers(allowed, folded, start, end)]
            continue
        for sentence in _SENTENCE.finditer(text):
            own = [c for c in candidates if sentence.start() <= c[0] < sentence.end()]
            if own:
                # The candidates with some words of context either side, not a whole long sentence.
                low, high = max(sentence.start(), own[0][0] - _CONTEXT), min(sentence.end(), own[-1][1] + _CONTEXT)
                while low > sentence.start() and not text[low - 1].isspace():
                    low -= 1
                while high < sentence.end() and not text[high].isspace():
                    high += 1
                pieces.setdefault(language, []).append((index, low, text[low:high], own, allowed, folded))
    for language, group in pieces.items():
        stop_words = _stop_words(language)
        for (index, offset, _, own, allowed, folded), persons in zip(
                group, ners[language].persons([p[2] for p in group])):
            text = texts[index]
            for start, end in persons:
                start, end = start + offset, end + offset
                if not any(start <= a and b <= end for a, b in own):
                    continue
                start, end = _trim(text, folded, start, end, stop_words)
                start, end = _extend(text, start, end, own)
                if end > start and not allowlist.covers(allowed, folded, start, end):
                    out[index].append(Hit(start, end, "name", "SpacyNerRecognizer", 0.85))
    return out


def _candidate_runs(text: str, candidates: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans of two or more candidate words side by side (blanks or a connector such as 'de'
    or 'van' between them): a first name and a surname, where no NER reads the language. A
    candidate alone is not taken: in a language that writes its nouns in lower case it is a
    place, a brand or a name, and on the Danish interviews measured mostly not a person's."""
    runs: list[list[int]] = []  # [start, end, words]
    for start, end in candidates:
        between = text[runs[-1][1]:start].split() if runs else None
        if runs and len(text[runs[-1][1]:start]) <= 8 and "\n" not in text[runs[-1][1]:start] \
                and all(word in _CONNECTORS for word in between):
            runs[-1][1:] = [end, runs[-1][2] + 1]
        else:
            runs.append([start, end, 1])
    return [(start, end) for start, end, words in runs if words >= 2]


def _sentence_initial(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence, a line or a turn: only blanks, notes
    and timestamps in brackets, quotation marks or ¿ ¡ stand between it and the text's start, a
    line end, sentence punctuation or a speaker label's colon."""
    i = start
    while i > 0:
        char = text[i - 1]
        if char in " \t-–—*¿¡\"'“”«»":
            i -= 1
        elif char in "])":
            opening = text.rfind("[" if char == "]" else "(", 0, i - 1)
            if opening < 0 or "\n" in text[opening:i]:
                return False
            i = opening
        else:
            return char in "\n.!?…:"
    return True


def _trim(text: str, folded: str, start: int, end: int, stop_words: frozenset[str]) -> tuple[int, int]:
    """An entity without the lower-case or stop words at its edges ('señora Rosa' -> 'Rosa')."""
    words = [m for m in _WORD.finditer(text, start, end)]
    keep = [m for m in words if m.group()[0].isupper() and fold_one_for_one(m.group()) not in stop_words]
    if not keep:
        return start, start
    return keep[0].start(), keep[-1].end()


def _extend(text: str, start: int, end: int, candidates: list[tuple[int, int]]) -> tuple[int, int]:
    """An entity grown over the candidate words right next to it: NER often stops after a first
    name ('Lucía' of 'Lucía Mamani Ccori'), and a surname left behind still identifies."""
    if end <= start:
        return start, end
    starts, ends = dict(candidates), {b: a for a, b in candidates}
    while True:
        gap = len(text) - len(text[end:].lstrip(" \t")) - end
        if 0 < gap <= 2 and end + gap in starts:
            end = starts[end + gap]
            continue
        before = len(text[:start]) - len(text[:start].rstrip(" \t"))
        if 0 < before <= 2 and start - before in ends:
            start = ends[start - before]
            continue
        return start, end


# ---------------------------------------------------------------------------------------------
# What is not a name, and the private names file


def lowercase_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every word written in lower case somewhere in ``texts``, folded."""
    words: set[str] = set()
    for text in texts:
        # Not the parts of emails, URLs and handles ('rosa.quispe88@...' does not make 'Rosa' common).
        plain = _ADDRESS_LIKE.sub(" ", text)
        words.update(w for w in _WORD.findall(plain) if w.islower())
    return frozenset(map(fold_one_for_one, words))  # each distinct word folded once


def read_private_names(path: Path | str) -> tuple[str, ...]:
    """The names of a private names file: one per line; blank lines and ``#`` comments skipped."""
    text = Path(path).read_text(encoding="utf-8-sig")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
