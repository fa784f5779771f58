"""Benchmark corpora: N copies of an evaluation's transcripts folder, each copy unique.

Copy ``k`` of session ``S01`` is session ``S01-cNN`` in file ``<stem>-cNN<suffix>``, in the same
format and encoding as the original (a ``.docx`` stays a Word file, a Windows-1252 ``.txt`` with
CRLF line ends stays one). The register rows and the human coding rows (``coding/*.csv``) are
copied with the new ids, so a corpus of N copies is really N times the sample.

The pipeline caches parsed documents by their text, so identical copies would be parsed once.
Every copy therefore gets a few words of its own: ``copia <k in words>.`` (``copy <k in words>.``
for English sessions) appended to the session's last respondent turn, in lower case and without
digits or brackets (brackets are notes the pipeline masks; digits and capitals could look like
identifying details to a privacy scan). The words go at the end of that turn, after every coded
span, so coding offsets keep pointing at the same words; where a Markdown front matter names the
session, the new id's extra characters shift the offsets, and the copied coding rows say so.
Each copy's normalised text is checked to be the original with exactly that change.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config.evaluation import load_evaluation
from pipeline.stages.ingest.formats import READERS, read_text
from pipeline.stages.ingest.transcripts import read_transcripts
from pipeline.stages.ingest.register import find_register
from pipeline.stages.turns import RESPONDENT, build_turns
from pipeline.text import decode

_UNITS_ES = ("cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
             "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro "
             "veinticinco veintiséis veintisiete veintiocho veintinueve").split()
_TENS_ES = {3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta", 7: "setenta", 8: "ochenta", 9: "noventa"}
_HUNDREDS_ES = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos", 5: "quinientos",
                6: "seiscientos", 7: "setecientos", 8: "ochocientos", 9: "novecientos"}
_UNITS_EN = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
             "sixteen seventeen eighteen nineteen").split()
_TENS_EN = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}


def number_words(n: int, language: str) -> str:
    """``n`` (1-999) in words, Spanish or English: "cuarenta y dos", "forty-two"."""
    if not 1 <= n <= 999:
        raise ValueError(f"copies are numbered 1-999, not {n}")
    if language == "en":
        hundreds, rest = divmod(n, 100)
        words = [f"{_UNITS_EN[hundreds]} hundred"] if hundreds else []
        if rest >= 20:
            words.append(_TENS_EN[rest // 10] + (f"-{_UNITS_EN[rest % 10]}" if rest % 10 else ""))
        elif rest:
            words.append(_UNITS_EN[rest])
        return " ".join(words)
    if n == 100:
        return "cien"
    hundreds, rest = divmod(n, 100)
    words = [_HUNDREDS_ES[hundreds]] if hundreds else []
    if rest >= 30:
        words.append(_TENS_ES[rest // 10] + (f" y {_UNITS_ES[rest % 10]}" if rest % 10 else ""))
    elif rest:
        words.append(_UNITS_ES[rest])
    return " ".join(words)


def copy_phrase(k: int, language: str) -> str:
    """The words that make copy ``k`` of a session unique."""
    return f"{'copy' if language == 'en' else 'copia'} {number_words(k, language)}."


def copy_id(session_id: str, k: int) -> str:
    return f"{session_id}-c{k:02d}"


def copy_file(file: str, k: int) -> str:
    path = Path(file)
    return path.with_name(f"{path.stem}-c{k:02d}{path.suffix}").as_posix()


@dataclass
class _Recipe:
    """How to make copies of one transcript: where the unique words go, and its coding shift."""

    session_id: str
    file: str
    language: str
    text: str  # the original normalised text
    insert_at: int  # offset in ``text`` where the words go (end of the last respondent turn)
    locate: object = None  # format-specific: which line / paragraph receives the words
    front_matter_id: bool = False  # a Markdown front matter names the session


@dataclass
class Corpus:
    """What :func:`build_corpus` wrote."""

    folder: Path
    copies: int
    sessions: int
    words: int  # whitespace-separated words of every copy's normalised text
    files: dict[str, int] = field(default_factory=dict)  # format -> number of files
    coding_rows: int = 0


_LINE_END = re.compile(r"\r\n|\r|\n")


def _raw_lines(raw: str) -> list[str]:
    """Lines with their own line ends, split like ``normalise`` counts them."""
    lines, last = [], 0
    for match in _LINE_END.finditer(raw):
        lines.append(raw[last:match.end()])
        last = match.end()
    lines.append(raw[last:])
    return lines


_TRAILING = re.compile(r"(?:\s*</[^>]+>)*\s*\Z")  # closing subtitle tags and the line end


def _line_body(line: str) -> str:
    """A raw line without its line end and closing tags (``</v>`` of a WebVTT voice)."""
    return line[:_TRAILING.search(line).start()]


def _with_words_at_line_end(line: str, words: str) -> str:
    body = _line_body(line)
    return body + " " + words + line[len(body):]


def _expected(recipe: _Recipe, k: int) -> str:
    """The normalised text copy ``k`` must have."""
    text = recipe.text
    text = text[:recipe.insert_at] + " " + copy_phrase(k, recipe.language) + text[recipe.insert_at:]
    if recipe.front_matter_id:
        text = _replace_front_matter_id(text, recipe.session_id, copy_id(recipe.session_id, k))
    return text


_FM_ID = r"(?m)\A(---[ \t]*\n(?:.*\n)*?)session_id:([ \t]*)['\"]?{old}['\"]?[ \t]*$"


def _replace_front_matter_id(text: str, old: str, new: str) -> str:
    pattern = re.compile(_FM_ID.format(old=re.escape(old)))
    replaced, count = pattern.subn(lambda m: f"{m.group(1)}session_id:{m.group(2)}{new}", text, count=1)
    if count != 1:
        raise ValueError(f"cannot find 'session_id: {old}' in the front matter")
    return replaced


def _write_text_copy(source: Path, target: Path, recipe: _Recipe, k: int) -> None:
    data = source.read_bytes()
    raw, encoding = decode(data, source.name)
    lines = _raw_lines(raw)
    lines[recipe.locate] = _with_words_at_line_end(lines[recipe.locate], copy_phrase(k, recipe.language))
    new = "".join(lines)
    if recipe.front_matter_id:
        new = _replace_front_matter_id(new.replace("\r\n", "\n"), recipe.session_id,
                                       copy_id(recipe.session_id, k))
        if "\r\n" in raw:
            new = new.replace("\n", "\r\n")
    bom = b""
    if encoding == "utf-8-sig":
        encoding, bom = "utf-8", b"\xef\xbb\xbf"
    target.write_bytes(bom + new.encode(encoding))


def _docx_paragraphs(document) -> list:
    """Every paragraph of a Word document, body and table cells, in reading order."""
    from docx.table import Table

    found = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                for cell in row.cells:
                    found.extend(cell.paragraphs)
        else:
            found.append(block)
    return found


def _write_docx_copy(source: Path, target: Path, recipe: _Recipe, k: int) -> None:
    import docx

    document = docx.Document(str(source))
    paragraph = _docx_paragraphs(document)[recipe.locate]
    paragraph.add_run(" " + copy_phrase(k, recipe.language))
    document.save(str(target))


def _write_copy(source: Path, target: Path, recipe: _Recipe, k: int) -> None:
    if source.suffix.lower() == ".docx":
        _write_docx_copy(source, target, recipe, k)
    else:
        _write_text_copy(source, target, recipe, k)


def _check_copy(target: Path, recipe: _Recipe, k: int) -> str:
    extracted = read_text(target)
    expected = _expected(recipe, k)
    if extracted.text != expected:
        raise AssertionError(f"copy {k} of {recipe.file} does not read back as the original plus "
                             f"'{copy_phrase(k, recipe.language)}'")
    return extracted.text


def _recipes(sample: Path, codebook: Path, scratch: Path) -> list[_Recipe]:
    """Find, for each transcript of ``sample``, where the unique words of a copy go.

    Candidates (the raw lines or Word paragraphs that end like the last respondent turn) are
    tried from the last one back, and the first whose copy reads back as expected is kept.
    """
    evaluation = load_evaluation(codebook)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transcripts = read_transcripts(sample, evaluation=evaluation)
        turns = build_turns(transcripts, interviewer_labels=evaluation.interviewer_labels, folder=sample)
    recipes = []
    for session in transcripts.itertuples(index=False):
        answers = turns[(turns["session_id"] == session.session_id) & (turns["role"] == RESPONDENT)]
        end = int(answers["end"].iloc[-1])
        text = session.text
        recipe = _Recipe(session.session_id, session.file, session.language, text, end,
                         front_matter_id=str(read_text(sample / session.file).front_matter.get("session_id", ""))
                         == session.session_id)
        source = sample / session.file
        last_word = text[:end].split()[-1]
        if source.suffix.lower() == ".docx":
            import docx

            paragraphs = _docx_paragraphs(docx.Document(str(source)))
            candidates = [i for i, p in enumerate(paragraphs) if p.text.rstrip().endswith(last_word)]
        else:
            raw, _ = decode(source.read_bytes(), source.name)
            candidates = [i for i, line in enumerate(_raw_lines(raw)) if _line_body(line).endswith(last_word)]
        probe = scratch / Path(session.file).name
        for candidate in reversed(candidates):
            recipe.locate = candidate
            _write_copy(source, probe, recipe, 1)
            try:
                _check_copy(probe, recipe, 1)
                break
            except AssertionError:
                continue
        else:
            raise RuntimeError(f"cannot find where to add words to the last respondent turn of {session.file}")
        probe.unlink()
        recipes.append(recipe)
    return recipes


def _shift(recipe: _Recipe, k: int):
    """Old offset -> offset in copy ``k`` (the words go at ``insert_at``; the id may grow)."""
    grow = len(copy_id(recipe.session_id, k)) - len(recipe.session_id) if recipe.front_matter_id else 0
    added = len(copy_phrase(k, recipe.language)) + 1

    def start(offset: int) -> int:
        return offset + grow + (added if offset >= recipe.insert_at else 0)

    def end(offset: int) -> int:
        return offset + grow + (added if offset > recipe.insert_at else 0)

    return start, end


def build_corpus(sample: Path | str, codebook: Path | str, out: Path | str, copies: int, *,
                 check: str = "first") -> Corpus:
    """Write ``copies`` copies of the transcripts folder ``sample`` into the new folder ``out``.

    ``check``: which copies are read back and compared with the expected text: ``"all"``,
    ``"first"`` (copy 1 of every file, plus every text-format copy; the Word ones are slower to
    read) or ``"none"``.
    """
    sample, codebook, out = Path(sample), Path(codebook), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / ".probe"
    scratch.mkdir()
    recipes = _recipes(sample, codebook, scratch)
    scratch.rmdir()
    by_id = {r.session_id: r for r in recipes}

    register_path, problems = find_register(sample)
    if register_path is None or register_path.suffix != ".csv":
        raise ValueError(f"{sample} needs a register.csv for the benchmark ({problems})")
    with register_path.open(encoding="utf-8-sig", newline="") as handle:
        sniffed = csv.Sniffer().sniff(handle.read(4096), delimiters=",;")
        handle.seek(0)
        reader = csv.DictReader(handle, dialect=sniffed)
        header, rows = reader.fieldnames, [r for r in reader if any(r.values())]

    words, files = 0, {}
    out_rows = []
    for k in range(1, copies + 1):
        for row in rows:
            recipe = by_id[row["session_id"]]
            target = out / copy_file(row["file"], k)
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_copy(sample / row["file"], target, recipe, k)
            is_docx = target.suffix.lower() == ".docx"
            if check == "all" or (check == "first" and (k == 1 or not is_docx)):
                _check_copy(target, recipe, k)
            words += len(_expected(recipe, k).split())
            kind = READERS[target.suffix.lower()].kind
            files[kind] = files.get(kind, 0) + 1
            out_rows.append({**row, "file": copy_file(row["file"], k),
                             "session_id": copy_id(row["session_id"], k)})
    with (out / "register.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out_rows)

    coding_rows = 0
    coding = sample / "coding"
    for path in sorted(coding.glob("*.csv")) if coding.is_dir() else []:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header, source_rows = reader.fieldnames, list(reader)
        target = out / "coding" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            for k in range(1, copies + 1):
                for row in source_rows:
                    recipe = by_id.get(row.get("session_id", ""))
                    if recipe is None:
                        continue  # a row keyed by file or an unknown session: not copied
                    new = {**row, "session_id": copy_id(recipe.session_id, k)}
                    if (row.get("start") or "").strip() and (row.get("end") or "").strip():
                        start, end = _shift(recipe, k)
                        new["start"], new["end"] = str(start(int(row["start"]))), str(end(int(row["end"])))
                    writer.writerow(new)
                    coding_rows += 1
    return Corpus(folder=out, copies=copies, sessions=len(out_rows), words=words, files=files,
                  coding_rows=coding_rows)
