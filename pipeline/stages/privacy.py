"""Privacy guard: identifying details found in every text an output could contain.

Transcripts should arrive anonymised; this stage catches the slips (a name in passing, a phone
number read aloud, a DNI, an email, a street address, a profile URL) before anything is
written. It scans the full normalised text of every transcript (respondent and interviewer
turns, speaker labels included: transcript views show them all), the register's ``notes``,
and the ``memo`` and ``quote`` of every human coding. It returns findings with their place
and kind, never the identifying text itself, so the findings can be printed and shared.

Recognisers run through Microsoft Presidio's analyzer, with no NLP engine of its own (every
recogniser here is self-contained, so Presidio never loads or downloads a spaCy model):

- ``PhoneRecognizer`` (Google's ``phonenumbers``) with region PE: mobiles (9 digits from 9),
  landlines with or without the area code's 0, ``+51``, any ``+`` international number;
- ``EmailRecognizer``, its domain checked by ``tldextract`` against the public suffix list
  bundled with it (never fetched: see :data:`_OFFLINE_TLD`);
- a URL recogniser (Presidio's patterns) and a social-media handle recogniser (``@someone``);
- a Peruvian DNI recogniser: 8 digits, or ``45.678.912`` / ``4567 8912`` next to a word such
  as DNI, documento or identidad;
- street addresses: ``Av./Jr./Calle/Psje./Prolongación`` + a capitalised name + a number,
  ``Mz. B Lt. 12``, ``123 Main Street``;
- names introduced by a formula (``me llamo``, ``mi nombre es``, ``my name is``) or a title
  (``señora``, ``don``, ``doña``, ``Dr.``, ``Mr.``, ``Ms.``...);
- the names in the team's private file (``privacy.private_names``), whatever their case;
- person names from the spaCy NER of the evaluation's trained pipeline (only the ``ner``
  component is loaded). NER is the costly part and, on interview speech, a noisy one, so it
  runs only on sentences holding a *candidate*: a capitalised word that is not a stop word,
  not allowlisted, and never written in lower case anywhere in the evaluation's texts (names
  are not; "Había" and "Secretario" are). A PER entity counts only if it holds a candidate.

The allowlist (``privacy.allowlist`` plus the evaluation's own vocabulary: region, group,
method and criterion labels, interviewer labels, the register's institutions, code labels)
holds what is not personal; a finding inside an allowlisted term is dropped.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from pipeline import schemas
from pipeline.errors import InputError, ModelError, Problem
from pipeline.seams import IN_ORDER, Parallel

POLICIES = ("block", "redact", "off")

PLACEHOLDERS = {"private_name": "[NOMBRE]", "name": "[NOMBRE]", "email": "[CORREO]", "url": "[URL]",
                "dni": "[DNI]", "phone": "[TELEFONO]", "address": "[DIRECCION]"}
# When findings overlap, the merged finding takes the first kind of this order.
_PRIORITY = tuple(PLACEHOLDERS)
KIND_NAMES = {"private_name": "a name from the private names file", "name": "a person's name",
              "email": "an email address", "url": "a URL or social-media handle", "dni": "a DNI number",
              "phone": "a phone number", "address": "a street address"}

FIX = ("Replace it with a placeholder such as [NOMBRE] in the transcript, or add the term to privacy.allowlist "
       "in evaluation.yaml if it is not personal.")
OFF_WARNING = ("PRIVACY SCAN OFF: this run was made with privacy.policy 'off'. Its outputs were not checked "
               "for names, DNI or phone numbers, emails, addresses or URLs; do not share them before a "
               "run with 'block' or 'redact'.")

_LANGUAGE = "xx"  # Presidio's recognisers are keyed by language; every one here reads any language
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# A capitalised word (not all capitals: acronyms and shouted labels are left to the patterns).
_UPPER, _LOWER = "A-ZÁÉÍÓÚÑÜÀÈÌÒÙÂÊÎÔÛÇ", "a-záéíóúñüàèìòùâêîôûç"
_CAPITALISED = re.compile(rf"(?<![\w'’-])[{_UPPER}][{_LOWER}]+(?:['’-]?[{_UPPER}]?[{_LOWER}]+)*(?!\w)")
# A word (between spaces, quotes and brackets) holding a dot between a letter or digit and a
# letter; tried at the start of each word only, as _ADDRESS_LIKE below.
_DOTTED = re.compile(r"(?<![^\s\"'()<>\[\]«»“”])(?=[^\s\"'()<>\[\]«»“”]*[A-Za-z0-9]\.[A-Za-z])"
                     r"[^\s\"'()<>\[\]«»“”]+")
_SENTENCE = re.compile(r"[^.!?…\n]+[.!?…]*")
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]{1,40}\]")
# A run of non-spaces holding "@", "/" or a dot inside a word: tried at the start of each run
# only (as "\S*(?:@|/|\w\.\w)\S*", tried at every character, it took 1.5 s at 10x, now 0.3).
_ADDRESS_LIKE = re.compile(r"(?<!\S)(?=\S*(?:@|/|\w\.\w))\S+")
_NEXT_CAPITALISED = re.compile(r"[ \t]+(?:(?:de|del|de la)[ \t]+)?[A-ZÁÉÍÓÚÑÜ][a-záéíóúñü]")
_CONTEXT = 60  # characters of context either side of a candidate name given to NER
_CONNECTORS = {"de", "del", "la", "las", "los", "y", "e", "da", "do", "van", "von"}
# Words a title may precede that are roles, not names ("la señora Ministra", "Dr. Fiscal").
_ROLES = {
    "ministra", "ministro", "viceministra", "viceministro", "fiscal", "fiscales", "juez", "jueza", "directora",
    "director", "alcalde", "alcaldesa", "presidente", "presidenta", "coordinadora", "coordinador", "gerente",
    "secretaria", "secretario", "comisaria", "comisario", "congresista", "defensora", "defensor", "doctor",
    "doctora", "profesor", "profesora", "licenciada", "licenciado", "ingeniero", "ingeniera", "prefecto",
    "subprefecto", "gobernador", "gobernadora", "inspector", "inspectora", "capitán", "capitan", "coronel",
    "mayor", "general", "suboficial", "oficial", "teniente", "especialista", "jefe", "jefa", "madre", "padre",
    "minister", "director", "president", "chair", "officer", "specialist", "ambassador", "mayor", "judge",
    "prosecutor", "coordinator", "manager", "head",
}
_TITLE = (r"(?i:señora|señor|señorita|sra\.?|sr\.?|srta\.?|don|doña|doctora|doctor|dra\.|dr\.?|licenciada|"
          r"licenciado|lic\.|ing\.|ingeniera|ingeniero|profesora|profesor|profe|prof\.|mr\.?|mrs\.?|ms\.?|miss|"
          r"mister|madam|hermana|hermano|tía|tío|compañera|compañero)")
_NAME = r"[A-ZÁÉÍÓÚÑÜ][a-záéíóúñü]+(?:[ \t]+(?:(?:de|del|de la)[ \t]+)?[A-ZÁÉÍÓÚÑÜ][a-záéíóúñü]+){0,3}"


@dataclass(frozen=True)
class Hit:
    """One finding in one text: offsets in that text, kind, recogniser and score."""

    start: int
    end: int
    kind: str
    recognizer: str
    score: float


# ---------------------------------------------------------------------------------------------
# Presidio recognisers


@functools.lru_cache(maxsize=1)
def _offline_tld():
    """tldextract on the public suffix list it ships: no URL to fetch, no cache to write."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _recognizers(private_names: tuple[str, ...]) -> list:
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer, UrlRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        # Presidio validates the domain with tldextract's module-level extractor, which
        # fetches the suffix list from the internet on first use; this one never does.
        def validate_result(self, pattern_text: str):
            return _offline_tld()(pattern_text.rsplit("@", 1)[-1]).fqdn != ""

    class HostUrlRecognizer(UrlRecognizer):
        # Presidio's pattern also takes "...es" (an ellipsis before a word) for a domain.
        HOST = re.compile(r"(?i)(?:https?://)?(?:[a-z0-9][a-z0-9-]*\.)+[a-z]{2,}(?:[/:?#]|$)")

        def validate_result(self, pattern_text: str):
            return bool(self.HOST.match(pattern_text))

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            # The pattern alternates a thousand domain endings; run it only on the words that
            # hold a dot between letters or digits, which is where a host can be.
            results = []
            for word in _DOTTED.finditer(text):
                for result in super().analyze(word.group(), entities, nlp_artifacts, regex_flags):
                    result.start, result.end = result.start + word.start(), result.end + word.start()
                    while result.end > result.start and text[result.end - 1] in ".,;:!?":
                        result.end -= 1  # the sentence's punctuation, not the URL's
                    results.append(result)
            return results

    class DniRecognizer(PatternRecognizer):
        CONTEXT = re.compile(r"(?i)\b(?:d\.?\s?n\.?\s?i|documento|identidad|carn[eé]t?|c[eé]dula|identity|id)\b")
        MONEY = re.compile(r"(?i)(?:S/|\$|€|\b(?:soles|dólares|dolares|euros|usd|pen|millones|presupuesto)\b)")

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            # Eight digits alone are a DNI, and so is 45.678.912 unless money is near (S/ 45.678.912);
            # spaced forms (4567 8912) need a word such as DNI or documento shortly before.
            kept = []
            for r in results:
                value = text[r.start:r.end]
                if value.isdigit() or self.CONTEXT.search(text, max(0, r.start - 40), r.start):
                    kept.append(r)
                elif "." in value and not self.MONEY.search(text[max(0, r.start - 12):r.end + 14]):
                    kept.append(r)
            return kept

    case_sensitive = re.DOTALL | re.MULTILINE
    recognizers = [
        PhoneRecognizer(supported_language=_LANGUAGE, supported_regions=("PE",), leniency=1,
                        context=["teléfono", "celular", "número", "llamar", "whatsapp", "phone", "mobile"]),
        OfflineEmailRecognizer(supported_language=_LANGUAGE),
        HostUrlRecognizer(supported_language=_LANGUAGE),
        PatternRecognizer(supported_entity="URL", name="SocialHandleRecognizer", supported_language=_LANGUAGE,
                          patterns=[Pattern("handle", r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{2,29}\b", 0.6)]),
        DniRecognizer(supported_entity="PE_DNI", name="DniRecognizer", supported_language=_LANGUAGE, patterns=[
            Pattern("DNI, 8 digits", r"(?<![\d.,/:-])\d{8}(?!\d|[.,/:-]\d)", 0.6),
            Pattern("DNI, dotted", r"(?<![\d.,])\d{2}\.\d{3}\.\d{3}(?!\d|[.,]\d)", 0.4),
            Pattern("DNI, spaced", r"(?<![\d.,])\d{4}[ -]\d{4}(?!\d|[.,]\d)", 0.4),
            Pattern("DNI, 2-3-3", r"(?<![\d.,])\d{2} \d{3} \d{3}(?!\d|[.,]\d)", 0.4)]),
        PatternRecognizer(
            supported_entity="ADDRESS", name="AddressRecognizer", supported_language=_LANGUAGE,
            global_regex_flags=case_sensitive, patterns=[
                Pattern("street and number",
                        r"\b(?i:av|avda|avenida|jr|jir[oó]n|calle|psje|pje|pasaje|prolongaci[oó]n|prol|carretera|"
                        r"urb|urbanizaci[oó]n)\.?[ \t]+(?:(?:de|del|la|las|los|el)[ \t]+)*"
                        r"(?:[A-ZÁÉÍÓÚÑ0-9][\w'.]*[ \t]+(?:(?:de|del|la|las|los|el|y)[ \t]+)*){1,5}"
                        r"(?:(?i:n[°º.o]?|nro\.?|#|cuadra)[ \t]*)?\d{1,5}\b", 0.6),
                Pattern("block and lot", r"\b(?i:mz|manzana)\.?[ \t]*[A-Z0-9]{1,3}[, \t]+(?i:lt|lote)\.?[ \t]*\d{1,4}\b",
                        0.6),
                Pattern("number and street",
                        r"\b\d{1,5}[ \t]+(?:[A-Z][a-z]+[ \t]+){1,3}(?:Street|St\.|Avenue|Ave\.|Road|Rd\.|Lane|Drive|"
                        r"Boulevard|Blvd\.)", 0.6)]),
        PatternRecognizer(
            supported_entity="PERSON", name="NameIntroductionRecognizer", supported_language=_LANGUAGE,
            global_regex_flags=case_sensitive, patterns=[
                Pattern("introduced", rf"(?<=\b(?i:me llamo|mi nombre es|my name is|my name's|i am called|"
                                      rf"call me|llámame|llamame|le dicen|me dicen)[ \t]+){_NAME}", 0.7),
                Pattern("titled", rf"(?<=\b{_TITLE}[ \t]+){_NAME}", 0.6)]),
    ]
    if private_names:
        recognizers.append(PatternRecognizer(
            supported_entity="PRIVATE_NAME", name="PrivateNamesRecognizer", supported_language=_LANGUAGE,
            global_regex_flags=re.DOTALL | re.MULTILINE,
            patterns=[Pattern("private name", _private_names_pattern(private_names), 1.0)]))
    return recognizers


_ENTITY_KINDS = {"PRIVATE_NAME": "private_name", "PERSON": "name", "EMAIL_ADDRESS": "email", "URL": "url",
                 "PE_DNI": "dni", "PHONE_NUMBER": "phone", "ADDRESS": "address"}

_ACCENTS = {"a": "aáàäâã", "e": "eéèëê", "i": "iíìïî", "o": "oóòöôõ", "u": "uúùüû", "n": "nñ", "c": "cç"}


def _letter(char: str) -> str:
    base = _fold(char)
    variants = _ACCENTS.get(base, base)
    return "[" + "".join(sorted(set(variants + variants.upper()))) + "]" if char.isalpha() else re.escape(char)


def _private_names_pattern(names: tuple[str, ...]) -> str:
    """Each full name in any case and with or without accents; each word of a longer name
    (three letters or more) when written with a capital, as names are in running text."""
    full, words = [], set()
    for name in names:
        parts = name.split()
        full.append(r"[ \t]+".join("".join(_letter(c) for c in part) for part in parts))
        if len(parts) > 1:
            words |= {p for p in parts if len(p) >= 3 and _fold(p) not in _CONNECTORS}
    alternatives = sorted(full, key=len, reverse=True)
    alternatives += ["(?-i:" + "".join(
        (f"[{w[0].upper()}{_fold(w[0]).upper()}]" if i == 0 else _letter(c)) for i, c in enumerate(w)) + ")"
        for w in sorted(words, key=len, reverse=True)]
    return r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"


# ---------------------------------------------------------------------------------------------
# Folding, allowlist and candidates for NER


class _FoldTable(dict):
    """str.translate table: each character to its lower-case, unaccented form, if that is one
    character (so offsets survive folding); filled as characters are met."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = unicodedata.normalize("NFD", char)[0].lower()
        self[code] = folded if len(folded) == 1 else char
        return self[code]


_FOLD = _FoldTable()


def _fold(text: str) -> str:
    """Lower case without accents, one character for one."""
    return text.translate(_FOLD)


def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS as EN
    from spacy.lang.es.stop_words import STOP_WORDS as ES

    return frozenset(_fold(w) for w in ES | EN)


def allowlist_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """Allowlist entries split into terms: a label such as 'Sector justicia (Ministerio Público,
    Poder Judicial, PNP)' allows each of its parts."""
    out = set()
    for term in terms:
        for part in re.split(r"[(),;/]| - | y | and ", str(term)):
            part = part.strip(" .:-")
            if len(part) >= 2:
                out.add(_fold(part))
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
# The scanner


class Scanner:
    """Finds identifying details in texts. ``vocabulary`` is every word written in lower case
    somewhere in the evaluation's texts (see :func:`lowercase_vocabulary`)."""

    def __init__(self, *, allowlist: Iterable[str] = (), private_names: Iterable[str] = (),
                 ner_model: str | None = None, ner_language: str = "es", batch_size: int = 64,
                 vocabulary: frozenset[str] = frozenset(), parallel: Parallel = IN_ORDER):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        self.private_names = tuple(n.strip() for n in private_names if n.strip())
        self.allowed = _Allowed(allowlist_terms(allowlist))
        self.private_terms = {_fold(n) for n in self.private_names}
        registry = RecognizerRegistry(recognizers=_recognizers(self.private_names), supported_languages=[_LANGUAGE])
        self.analyzer = AnalyzerEngine(registry=registry, supported_languages=[_LANGUAGE],
                                       nlp_engine=NoOpNlpEngine(models=[{"lang_code": _LANGUAGE, "model_name": "none"}]))
        self.ner = _Ner(ner_model, batch_size, ner_language) if ner_model else None
        self.vocabulary = vocabulary
        self.stop_words = _stop_words()
        self.parallel = parallel

    def scan(self, texts: list[str]) -> list[list[Hit]]:
        """The findings in each text, merged where they overlap, in text order; in up to
        the processes of ``parallel`` (:mod:`pipeline.seams`), each scanning shares of the
        texts in turn."""
        if self.parallel.processes <= 1 or len(texts) < 16:
            return self._scan(texts)
        if self.ner is not None:
            self.ner.nlp  # loaded before the workers fork: they share it
        size = sum(map(len, texts)) / (4 * self.parallel.processes)
        shares, share, length = [], [], 0
        for text in texts:
            share.append(text)
            length += len(text)
            if length >= size:
                shares.append(share)
                share, length = [], 0
        shares += [share] if share else []
        return [hits for part in self.parallel.map(self._scan, shares) for hits in part]

    def _scan(self, texts: list[str]) -> list[list[Hit]]:
        # Each text folded and searched for allowlisted terms once, for both kinds of finding.
        folded = [_fold(text) for text in texts]
        allowed = [self.allowed.spans(f) for f in folded]
        patterns = [self._patterns(*item) for item in zip(texts, folded, allowed)]
        names = self._names(texts, folded, allowed)
        return [_merge(p + n) for p, n in zip(patterns, names)]

    def _patterns(self, text: str, folded: str, allowed: list[tuple[int, int]]) -> list[Hit]:
        if not text.strip():
            return []
        hits = []
        for result in self.analyzer.analyze(text=text, language=_LANGUAGE, score_threshold=0.0):
            kind = _ENTITY_KINDS.get(result.entity_type)
            if kind is None:
                continue
            name = (result.recognition_metadata or {}).get("recognizer_name", result.entity_type)
            if kind == "name" and self._ordinary(text[result.start:result.end]):
                continue
            if kind != "private_name" and self.allowed.covers(allowed, folded, result.start, result.end):
                continue
            hits.append(Hit(result.start, result.end, kind, name, round(float(result.score), 2)))
        return hits

    def _ordinary(self, name: str) -> bool:
        """A title followed by a role or a stop word ('la señora Ministra', 'Mr. And')."""
        words = [_fold(w) for w in _WORD.findall(name)]
        return not words or words[0] in _ROLES or words[0] in self.stop_words

    def _candidates(self, text: str, folded: str, allowed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        placeholders = [m.span() for m in _PLACEHOLDER.finditer(text)]
        found = []
        for match in _CAPITALISED.finditer(text):
            word = folded[match.start():match.end()].strip("'’-")
            if word in self.stop_words or word in self.vocabulary or word in _CONNECTORS:
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

    def _names(self, texts: list[str], folded_texts: list[str], allowed_spans: list[list[tuple[int, int]]]
               ) -> list[list[Hit]]:
        """Person names from NER, run only on the sentences that hold a candidate word."""
        out: list[list[Hit]] = [[] for _ in texts]
        if self.ner is None:
            return out
        pieces = []  # (text index, sentence start, sentence, candidates, allowed spans, folded text)
        for index, (text, folded, allowed) in enumerate(zip(texts, folded_texts, allowed_spans)):
            candidates = self._candidates(text, folded, allowed)
            if not candidates:
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
                    pieces.append((index, low, text[low:high], own, allowed, folded))
        for (index, offset, _, own, allowed, folded), persons in zip(
                pieces, self.ner.persons([p[2] for p in pieces])):
            text = texts[index]
            for start, end in persons:
                start, end = start + offset, end + offset
                if not any(start <= a and b <= end for a, b in own):
                    continue
                start, end = _trim(text, folded, start, end, self.stop_words)
                start, end = _extend(text, start, end, own)
                if end > start and not self.allowed.covers(allowed, folded, start, end):
                    out[index].append(Hit(start, end, "name", "SpacyNerRecognizer", 0.85))
        return out


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
    keep = [m for m in words if m.group()[0].isupper() and _fold(m.group()) not in stop_words]
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


def _merge(hits: list[Hit]) -> list[Hit]:
    """Overlapping findings become one, named after the most specific kind among them."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            first = min((last, hit), key=lambda h: _PRIORITY.index(h.kind))
            merged[-1] = Hit(last.start, max(last.end, hit.end), first.kind, first.recognizer,
                             max(last.score, hit.score))
        else:
            merged.append(hit)
    return merged


def lowercase_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every word written in lower case somewhere in ``texts``, folded."""
    words: set[str] = set()
    for text in texts:
        # Not the parts of emails, URLs and handles ('rosa.quispe88@...' does not make 'Rosa' common).
        plain = _ADDRESS_LIKE.sub(" ", text)
        words.update(w for w in _WORD.findall(plain) if w.islower())
    return frozenset(map(_fold, words))  # each distinct word folded once


def read_private_names(path: Path | str) -> tuple[str, ...]:
    """The names of a private names file: one per line; blank lines and ``#`` comments skipped."""
    text = Path(path).read_text(encoding="utf-8-sig")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


# ---------------------------------------------------------------------------------------------
# Findings and redaction


def _line_column(text: str, start: int) -> tuple[int, int]:
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1


@dataclass(frozen=True)
class Item:
    """One text to scan and where it comes from: a transcript (``field`` 'text', line and
    column counted in it) or a cell of a table (``field`` the column, ``line`` the row)."""

    session_id: str
    file: str
    field: str
    text: str
    row: int = 0


def find_identifiers(items: list[Item], scanner: Scanner) -> tuple[pd.DataFrame, list[list[Hit]]]:
    """The PRIVACY_FINDINGS table of ``items`` and the hits of each item."""
    hits = scanner.scan([item.text for item in items])
    rows = []
    for item, found in zip(items, hits):
        for hit in found:
            if item.field == "text":
                line, column = _line_column(item.text, hit.start)
            else:
                line, column = item.row, hit.start + 1
            rows.append({"session_id": item.session_id, "file": item.file, "field": item.field, "line": line,
                         "column": column, "start": hit.start, "end": hit.end, "kind": hit.kind,
                         "recognizer": hit.recognizer, "score": hit.score})
    return schemas.conform(rows, schemas.PRIVACY_FINDINGS), hits


@dataclass(frozen=True)
class Edit:
    """One replacement: ``text[start:end]`` of the original became ``new_start:new_end``."""

    start: int
    end: int
    new_start: int
    new_end: int
    kind: str


def redact(text: str, hits: list[Hit]) -> tuple[str, list[Edit]]:
    """``text`` with every hit replaced by its kind's placeholder, and the edits made."""
    pieces, edits, cursor, shift = [], [], 0, 0
    for hit in hits:
        placeholder = PLACEHOLDERS[hit.kind]
        pieces += [text[cursor:hit.start], placeholder]
        new_start = hit.start + shift
        edits.append(Edit(hit.start, hit.end, new_start, new_start + len(placeholder), hit.kind))
        shift += len(placeholder) - (hit.end - hit.start)
        cursor = hit.end
    pieces.append(text[cursor:])
    return "".join(pieces), edits


def shift_offset(position: int, edits: list[Edit], *, end: bool = False) -> int:
    """Where an offset of the original text falls in the redacted one. An offset inside a
    replaced span moves to the placeholder's start (a start) or end (an end)."""
    moved = 0
    for edit in edits:
        if position <= edit.start:
            break
        if position < edit.end:
            return edit.new_end if end else edit.new_start
        moved = edit.new_end - edit.end
    return position + moved


# ---------------------------------------------------------------------------------------------
# The guard of a run


@dataclass
class Guarded:
    """What the rest of a run reads, after the privacy guard: transcripts, turns and human
    coding (redacted under ``redact``), and the findings and redaction log."""

    policy: str
    findings: pd.DataFrame
    transcripts: pd.DataFrame
    turns: pd.DataFrame
    human: pd.DataFrame
    unplaced: pd.DataFrame
    log: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOG_COLUMNS))
    replaced: dict[str, str] = field(default_factory=dict)  # identifying text -> placeholder, in memory only
    ner_model: str | None = None

    def clean(self, problem: Problem) -> Problem:
        """A warning with any redacted text replaced, for the manifest and the terminal."""
        if not self.replaced:
            return problem
        message, fix = problem.message, problem.fix
        for original in sorted(self.replaced, key=len, reverse=True):
            message = message.replace(original, self.replaced[original])
            fix = fix.replace(original, self.replaced[original])
        return Problem(problem.file, message, fix, problem.where)

    def manifest(self) -> dict:
        """The ``privacy`` entry of manifest.json: policy, counts, and the warning when off."""
        by_kind = self.findings["kind"].value_counts().sort_index()
        entry = {"policy": self.policy, "findings": len(self.findings),
                 "findings_by_kind": {k: int(v) for k, v in by_kind.items()},
                 "names_by_ner": self.ner_model or "none (patterns and the private names file only)"}
        if self.policy == "redact":
            entry["redacted"] = len(self.log)
        if self.policy == "off":
            entry["warning"] = OFF_WARNING
        return entry


LOG_COLUMNS = ["session_id", "file", "field", "line", "start", "end", "kind", "placeholder", "recognizer"]


def scan_items(transcripts: pd.DataFrame, human: pd.DataFrame, unplaced: pd.DataFrame) -> list[Item]:
    """Every text of the inputs that an output may contain: transcripts, register notes, the
    memos of human coding and the quotes that could not be placed."""
    items = [Item(s.session_id, s.file, "text", s.text) for s in transcripts.itertuples(index=False)]
    items += [Item(s.session_id, "register", "notes", s.notes) for s in transcripts.itertuples(index=False)
              if s.notes]
    # Memos reach codings.csv and the reliability report; a quote reaches the outputs only when
    # it could not be placed (unplaced_quotes.csv): a placed one is transcript text, scanned there.
    for frame, columns in ((human, ("memo",)), (unplaced, ("quote",))):
        for r in frame.to_dict("records"):
            items += [Item(r["session_id"], f"coding/{r['file']}", column, r[column], int(r["row"]))
                      for column in columns if r.get(column)]
    return items


def guard(transcripts: pd.DataFrame, turns: pd.DataFrame, human: pd.DataFrame, unplaced: pd.DataFrame, *,
          policy: str, scanner: Scanner | None, folder: Path | str, ner_model: str | None = None) -> Guarded:
    """Apply ``policy`` to the inputs of a run before anything is written.

    ``block``: raise :class:`InputError` with one problem per finding (where and what kind,
    never the text). ``redact``: replace every finding by its placeholder in the transcripts,
    register notes, turn speakers, memos and quotes, move turns and human codings to the
    redacted offsets, and log each replacement. ``off``: pass everything through unscanned.
    """
    if policy == "off" or scanner is None:
        empty = schemas.conform([], schemas.PRIVACY_FINDINGS)
        return Guarded("off", empty, transcripts, turns, human, unplaced, ner_model=ner_model)
    items = scan_items(transcripts, human, unplaced)
    findings, hits = find_identifiers(items, scanner)
    if policy == "block":
        if len(findings):
            raise InputError(findings_problems(findings, folder))
        return Guarded(policy, findings, transcripts, turns, human, unplaced, ner_model=ner_model)
    return _redacted(findings, items, hits, transcripts, turns, human, unplaced, ner_model)


def findings_problems(findings: pd.DataFrame, folder: Path | str) -> list[Problem]:
    """One problem per finding: file, line and column, kind and recogniser; never the text."""
    problems = []
    for f in findings.itertuples(index=False):
        if f.field == "text":
            name, where = str(Path(folder) / f.file), f"line {f.line}, column {f.column} (offsets {f.start}-{f.end})"
        elif f.file == "register":
            name, where = str(Path(folder) / "register"), f"notes of session {f.session_id}, characters {f.start + 1}-{f.end}"
        else:
            name, where = str(Path(folder) / f.file), f"row {f.line}, {f.field}, characters {f.start + 1}-{f.end}"
        problems.append(Problem(name, f"{KIND_NAMES[f.kind]} ({f.kind}, found by {f.recognizer}, score {f.score}) "
                                      f"in session {f.session_id}.", FIX, where))
    return problems


def _redacted(findings, items, hits, transcripts, turns, human, unplaced, ner_model) -> Guarded:
    replaced: dict[str, str] = {}
    texts, notes, cells, edits_of, log = {}, {}, {}, {}, []
    for item, found in zip(items, hits):
        if not found:
            continue
        new, edits = redact(item.text, found)
        for hit in found:
            replaced[item.text[hit.start:hit.end]] = PLACEHOLDERS[hit.kind]
        for edit, hit in zip(edits, found):
            line = _line_column(new, edit.new_start)[0] if item.field == "text" else item.row
            log.append({"session_id": item.session_id, "file": item.file, "field": item.field, "line": line,
                        "start": edit.new_start, "end": edit.new_end, "kind": edit.kind,
                        "placeholder": PLACEHOLDERS[edit.kind], "recognizer": hit.recognizer})
        if item.field == "text":
            texts[item.session_id], edits_of[item.session_id] = new, edits
        elif item.field == "notes":
            notes[item.session_id] = new
        else:
            cells[(item.file, item.row, item.field)] = new
    out = transcripts.assign(
        text=[texts.get(s, t) for s, t in zip(transcripts["session_id"], transcripts["text"])],
        notes=[notes.get(s, n) for s, n in zip(transcripts["session_id"], transcripts["notes"])]
    ).astype(transcripts.dtypes.to_dict())
    new_turns = turns.assign(
        start=[shift_offset(a, edits_of.get(s, [])) for s, a in zip(turns["session_id"], turns["start"])],
        end=[shift_offset(b, edits_of.get(s, []), end=True) for s, b in zip(turns["session_id"], turns["end"])],
        speaker=[_replace_all(speaker, replaced) for speaker in turns["speaker"]])
    return Guarded("redact", findings, out, schemas.conform(new_turns, schemas.TURNS),
                   _move(human, edits_of, cells, texts=None), _move(unplaced, edits_of, cells, texts=texts),
                   pd.DataFrame(log, columns=LOG_COLUMNS), replaced, ner_model)


def _replace_all(value: str, replaced: dict[str, str]) -> str:
    for original in sorted(replaced, key=len, reverse=True):
        if original in value:
            value = re.sub(rf"(?<!\w){re.escape(original)}(?!\w)", replaced[original], value)
    return value


def _move(frame: pd.DataFrame, edits_of: dict, cells: dict, *, texts: dict | None) -> pd.DataFrame:
    """Human codings (or unplaced quotes) at the redacted offsets, their memos and quotes redacted."""
    if frame.empty:
        return frame
    records = frame.to_dict("records")
    for r in records:
        edits = edits_of.get(r["session_id"], [])
        for column in ("memo", "quote"):
            key = (f"coding/{r['file']}", int(r["row"]), column)
            if column in r and key in cells:
                r[column] = cells[key]
        for a, b in (("start", "end"), ("closest_start", "closest_end")):
            if a in r and edits:
                r[a], r[b] = shift_offset(int(r[a]), edits), shift_offset(int(r[b]), edits, end=True)
        if texts is not None and "closest" in r and r["session_id"] in texts:
            r["closest"] = texts[r["session_id"]][r["closest_start"]:r["closest_end"]]
    return pd.DataFrame(records, columns=frame.columns).astype(frame.dtypes.to_dict())
