"""The Presidio recognisers of the scan: phone numbers, emails, URLs and handles, DNI numbers,
street addresses, names introduced by a formula or a title, and the private names file's
names (see :mod:`pipeline.stages.privacy` for what each one finds)."""

from __future__ import annotations

import functools
import re

from pipeline.text import fold_one_for_one
from pipeline.stages.privacy.folding import _CONNECTORS, _LOWER, _UPPER

_LANGUAGE = "xx"  # Presidio's recognisers are keyed by language; every one here reads any language
# A word (between spaces, quotes and brackets) holding a dot between a letter or digit and a
# letter; tried at the start of each word only, as names._ADDRESS_LIKE.
_DOTTED = re.compile(r"(?<![^\s\"'()<>\[\]«»“”])(?=[^\s\"'()<>\[\]«»“”]*[A-Za-z0-9]\.[A-Za-z])"
                     r"[^\s\"'()<>\[\]«»“”]+")
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
          r"mister|madam|hermana|hermano|tía|tío|compañera|compañero|hr\.|fru|frk\.|frøken)")
_NAME = rf"[{_UPPER}][{_LOWER}]+(?:[ \t]+(?:(?:de|del|de la)[ \t]+)?[{_UPPER}][{_LOWER}]+){{0,3}}"
# Danish (and Norwegian) streets are one word ending in the kind of street ("Vestergade", "Strandvej").
_NORDIC_STREET = (rf"(?:[{_UPPER}][{_LOWER}]+[ \t]+)?(?:[{_UPPER}][{_LOWER}]*(?:vej|gade|stræde|plads|torv|vænge|allé)"
                  r"|Allé|Vej|Gade|Plads|Boulevard)")


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
                        r"Boulevard|Blvd\.)", 0.6),
                Pattern("street and number, Danish", rf"(?<!\w){_NORDIC_STREET}[ \t]+\d{{1,4}}[A-Za-z]?\b", 0.6)]),
        PatternRecognizer(
            supported_entity="PERSON", name="NameIntroductionRecognizer", supported_language=_LANGUAGE,
            global_regex_flags=case_sensitive, patterns=[
                Pattern("introduced", rf"(?<=\b(?i:me llamo|mi nombre es|my name is|my name's|i am called|"
                                      rf"call me|llámame|llamame|le dicen|me dicen|jeg hedder|mit navn er|"
                                      rf"han hedder|hun hedder|kald mig)[ \t]+){_NAME}", 0.7),
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
    base = fold_one_for_one(char)
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
            words |= {p for p in parts if len(p) >= 3 and fold_one_for_one(p) not in _CONNECTORS}
    alternatives = sorted(full, key=len, reverse=True)
    alternatives += ["(?-i:" + "".join(
        (f"[{w[0].upper()}{fold_one_for_one(w[0]).upper()}]" if i == 0 else _letter(c)) for i, c in enumerate(w)) + ")"
        for w in sorted(words, key=len, reverse=True)]
    return r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)"
