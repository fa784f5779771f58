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
  ``Mz. B Lt. 12``, ``123 Main Street``, ``Vestergade 12``;
- names introduced by a formula (``me llamo``, ``mi nombre es``, ``my name is``, ``jeg
  hedder``) or a title (``señora``, ``don``, ``doña``, ``Dr.``, ``Mr.``, ``Ms.``, ``fru``...);
- the names in the team's private file (``privacy.private_names``), whatever their case;
- person names from the spaCy NER of each text's language (its trained pipeline in
  ``nlp.models``; only the ``ner`` component is loaded). NER is the costly part and, on
  interview speech, a noisy one, so it runs only on sentences holding a *candidate*: a
  capitalised word that is not a stop word, not allowlisted, and never written in lower case
  anywhere in the evaluation's texts (names are not; "Había" and "Secretario" are). A PER
  entity counts only if it holds a candidate. A language with no trained pipeline has no NER:
  there two or more candidates side by side ("Mette Kjærgaard") count as a name.

The allowlist (``privacy.allowlist`` plus the evaluation's own vocabulary: region, group,
method and criterion labels, interviewer labels, the register's institutions, code labels)
holds what is not personal; a finding inside an allowlisted term is dropped.

The package, one job per module: :mod:`~pipeline.stages.privacy.hits` (what a finding is),
:mod:`~pipeline.stages.privacy.folding` (text folding), :mod:`~pipeline.stages.privacy.recognisers`
(the Presidio recognisers), :mod:`~pipeline.stages.privacy.names` (the allowlist, the NER and its
candidates, the private names file), :mod:`~pipeline.stages.privacy.scanner` (the Scanner and the
findings table), :mod:`~pipeline.stages.privacy.redaction` (placeholders and moved offsets),
:mod:`~pipeline.stages.privacy.policy` (the guard: a run's policy applied) and
:mod:`~pipeline.stages.privacy.setup` (an evaluation's Scanner: allowlist, private names, NER models).
Names with a leading underscore are private to the package, shared between its modules.
"""

from pipeline.stages.privacy.hits import KIND_NAMES, PLACEHOLDERS, Hit
from pipeline.stages.privacy.names import allowlist_terms, lowercase_vocabulary, read_private_names, release_models
from pipeline.stages.privacy.policy import (LOG_COLUMNS, OFF_WARNING, OWN_TEXT_FORMATS, POLICIES, Guarded,
                                            findings_problems, fix_for, guard, scan_items)
from pipeline.stages.privacy.redaction import Edit, redact, shift_offset
from pipeline.stages.privacy.scanner import Item, Scanner, find_identifiers
from pipeline.stages.privacy.setup import allowlist_for, ner_models_for, private_names_file, private_names_for, scanner_for

__all__ = [
    "KIND_NAMES", "LOG_COLUMNS", "OFF_WARNING", "OWN_TEXT_FORMATS", "PLACEHOLDERS", "POLICIES", "Edit", "Guarded",
    "Hit", "Item", "fix_for",
    "Scanner", "allowlist_for", "allowlist_terms", "find_identifiers", "findings_problems", "guard",
    "lowercase_vocabulary", "ner_models_for", "private_names_file", "private_names_for", "read_private_names", "redact",
    "release_models", "scan_items", "scanner_for", "shift_offset",
]
