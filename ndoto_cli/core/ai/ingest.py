"""Reading documents into passages for the knowledge base: Markdown, plain text, HTML and PDF.

Passages follow the document's structure: each heading starts a section, long sections are cut
at paragraph boundaries and long paragraphs at sentence boundaries (``MAX_PASSAGE``), and each
passage keeps the chain of headings above it as its title (so "Returns > Refund timing" is
searchable and shown).
"""

from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ndoto_cli.core.errors import Invalid

MAX_PASSAGE = 1200  # characters: long sections are cut at paragraph, then sentence boundaries
SUFFIXES = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html", ".htm": "html",
    ".pdf": "pdf",
}

@dataclass
class Section:
    title: str
    content: str


class _HtmlText(html.parser.HTMLParser):
    """HTML to Markdown-ish text: headings become '#' lines, blocks become paragraphs."""

    BLOCKS = frozenset({"p", "div", "li", "br", "tr", "section", "article", "ul", "ol", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(" ".join(data.split()) if data.strip() else "")


def to_markdown(text: str, kind: str) -> str:
    if kind == "html":
        parser = _HtmlText()
        parser.feed(text)
        return "".join(parser.out)
    return text


# A sentence ends at . ! or ? (and any closing quote or bracket) before white space.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def _sentences(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than ``limit`` in pieces of whole sentences (a sentence longer than
    ``limit`` alone is cut at the last space before it)."""
    out: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        sentence = sentence.strip()
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                out.append(current)
                current = ""
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            out.append(current)
            current = ""
        current = f"{current} {sentence}".strip() if sentence else current
    if current:
        out.append(current)
    return out


def pieces(content: str, limit: int = MAX_PASSAGE) -> list[str]:
    """A section's text as passages of at most ``limit`` characters: whole paragraphs while they
    fit, long paragraphs cut at sentence boundaries."""
    out: list[str] = []
    chunk: list[str] = []
    for para in re.split(r"\n\s*\n", content):
        para = para.strip()
        if not para:
            continue
        parts = _sentences(para, limit) if len(para) > limit else [para]
        for part in parts:
            if chunk and len("\n\n".join(chunk)) + 2 + len(part) > limit:
                out.append("\n\n".join(chunk))
                chunk = []
            chunk.append(part)
    if chunk:
        out.append("\n\n".join(chunk))
    return out


def faq_sections(question: str, answer: str) -> list[Section]:
    """An FAQ entry: its question is every passage's title (matched as a question), its answer
    the text, cut like any section's."""
    question = " ".join(question.split())
    return [Section(question, piece) for piece in pieces(answer.replace("\x00", ""))] or [Section(question, question)]


def split(text: str, *, default_title: str) -> list[Section]:
    """Sections by headings (Markdown '#' lines), then paragraphs up to ``MAX_PASSAGE`` chars."""
    sections: list[Section] = []
    trail: list[str] = []
    body: list[str] = []

    def flush() -> None:
        content = "\n".join(body).strip()
        body.clear()
        if not content:
            return
        title = " > ".join(trail) or default_title
        sections.extend(Section(title, piece) for piece in pieces(content))

    for line in text.splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*\S)\s*$", line)
        if heading:
            flush()
            level = len(heading.group(1))
            trail[:] = trail[: level - 1] + [heading.group(2).strip("# ")]
        else:
            body.append(line)
    flush()
    return sections


def _pdf_text(path: Path) -> str:
    """A PDF's text, one '#' section per page (PDFs carry no reliable heading structure)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise Invalid(f"{path.name}: cannot read this PDF ({exc})", field="path") from exc
    stem = path.stem.replace("-", " ").replace("_", " ").title()
    pages = [page.replace("\x00", "") for page in pages]
    return "\n\n".join(f"# {stem}\n\n## Page {n}\n\n{text.strip()}" for n, text in enumerate(pages, start=1) if text.strip())


def read_document(path: Path) -> tuple[str, list[Section]]:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Invalid(f"{path.name}: unsupported file type (use Markdown, plain text, HTML or PDF)", field="path")
    if kind == "pdf":
        text = _pdf_text(path)
        return text, split(text, default_title=path.stem)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}", field="path") from exc
    except UnicodeDecodeError as exc:
        raise Invalid(f"{path.name} is not UTF-8 text", field="path") from exc
    raw = raw.replace("\x00", "")  # NUL cannot be stored by PostgreSQL and means nothing in a document
    text = to_markdown(raw, kind)
    first = re.search(r"^#\s+(.*\S)", text, re.MULTILINE)
    title = first.group(1) if first else path.stem.replace("-", " ").replace("_", " ").title()
    return raw, split(text, default_title=title)


