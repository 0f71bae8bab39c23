"""Reading documents into passages for the knowledge base: Markdown, plain text, HTML, PDF, DOCX
and web pages.

Passages follow the document's structure: each heading starts a section, long sections are cut
at paragraph boundaries and long paragraphs at sentence boundaries (``MAX_PASSAGE``), and each
passage keeps the chain of headings above it as its title (so "Returns > Refund timing" is
searchable and shown). This module only reads bytes it is given: fetching pages is the
dispatcher's (``dispatch.crawl``), which hands each response to :func:`read_page`.
"""

from __future__ import annotations

import html.parser
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from ndoto_cli.core.errors import Invalid

MAX_PASSAGE = 1200  # characters: long sections are cut at paragraph, then sentence boundaries
SUFFIXES = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html", ".htm": "html",
    ".pdf": "pdf", ".docx": "docx",
}
KINDS = "Markdown, plain text, HTML, PDF or DOCX"
# What a web server's Content-Type says a page is (parameters such as charset removed).
MEDIA_TYPES = {
    "text/html": "html", "application/xhtml+xml": "html", "text/plain": "text", "text/markdown": "markdown",
    "text/x-markdown": "markdown", "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


@dataclass
class Section:
    title: str
    content: str


@dataclass
class Page:
    """A fetched page read: its text (hashed to tell a change), passages, links to follow, and
    what its robots meta tag asks (``noindex``: keep no passages; ``nofollow``: follow no link)."""

    raw: str
    sections: list[Section]
    title: str
    links: list[str] = field(default_factory=list)
    noindex: bool = False
    nofollow: bool = False


class _HtmlText(html.parser.HTMLParser):
    """HTML to Markdown-ish text: headings become '#' lines, blocks become paragraphs. Navigation and
    footers are left out (the same menu on every page of a site would otherwise be a
    passage of each); links, the base URL, the <title> and the robots meta tag are collected."""

    BLOCKS = frozenset({"p", "div", "li", "br", "tr", "section", "article", "ul", "ol", "table", "dt", "dd", "blockquote", "pre"})
    SKIP = frozenset({"script", "style", "head", "nav", "footer", "noscript", "template", "svg", "form", "button"})

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self.links: list[str] = []
        self.base: str | None = None
        self.title = ""
        self.robots = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "a" and attr.get("href") and "nofollow" not in attr.get("rel", "").lower().split():
            self.links.append(attr["href"].strip())
        elif tag == "base" and attr.get("href") and self.base is None:
            self.base = attr["href"].strip()
        elif tag == "meta" and attr.get("name", "").lower() in ("robots", "ndoto"):
            self.robots += "," + attr.get("content", "").lower()
        elif tag == "title":
            self._in_title = True
        if tag in self.SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        # <br/>, <meta .../>, <base .../>: the same as their start tags, with no end to wait for.
        if tag in self.SKIP:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) or tag in self.BLOCKS:
            self.out.append("\n\n")

    def text(self) -> str:
        """The text, each line's runs of spaces made one (inline tags leave them)."""
        return "\n".join(" ".join(line.split()) for line in "".join(self.out).splitlines())

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            # White space collapsed, but kept at the edges: "<b>more</b> text" keeps its space.
            words = " ".join(data.split())
            self.out.append(f"{' ' if data[:1].isspace() else ''}{words}{' ' if words and data[-1:].isspace() else ''}" or " ")


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


def _pdf_text(data: bytes, name: str) -> str:
    """A PDF's text, one '#' section per page (PDFs carry no reliable heading structure)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise Invalid(f"{name}: cannot read this PDF ({exc})", field="path") from exc
    stem = _title_of_name(name)
    pages = [page.replace("\x00", "") for page in pages]
    return "\n\n".join(f"# {stem}\n\n## Page {n}\n\n{text.strip()}" for n, text in enumerate(pages, start=1) if text.strip())


def _docx_html(data: bytes, name: str) -> str:
    """A Word document as HTML, through mammoth: its headings (Heading 1, 2, ...) become h1, h2,
    so the document is cut at its own structure, as HTML is."""
    import zipfile

    import mammoth

    try:
        return str(mammoth.convert_to_html(io.BytesIO(data)).value)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Invalid(f"{name}: cannot read this DOCX file ({exc or 'not a Word document'})", field="path") from exc


def _title_of_name(name: str) -> str:
    stem = Path(name).stem or name
    return stem.replace("-", " ").replace("_", " ").title()


def read_bytes(data: bytes, kind: str, *, name: str) -> tuple[str, list[Section], _HtmlText | None]:
    """(raw text, passages, the HTML parser when there was HTML) of a document of ``kind``;
    ``name`` titles a document without a heading and names it in errors."""
    parser = None
    if kind == "pdf":
        text = raw = _pdf_text(data, name)
        return raw, split(text, default_title=_title_of_name(name)), None
    if kind == "docx":
        raw = _docx_html(data, name)
        kind = "html"
    else:
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"{name} is not UTF-8 text", field="path") from exc
    raw = raw.replace("\x00", "")  # NUL cannot be stored by PostgreSQL and means nothing in a document
    if kind == "html":
        parser = _HtmlText()
        parser.feed(raw)
        text = parser.text()
    else:
        text = raw
    first = re.search(r"^#\s+(.*\S)", text, re.MULTILINE)
    title = first.group(1) if first else (" ".join(parser.title.split()) if parser and parser.title.strip() else _title_of_name(name))
    return raw, split(text, default_title=title), parser


def read_document(path: Path) -> tuple[str, list[Section]]:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Invalid(f"{path.name}: unsupported file type (use {KINDS})", field="path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}", field="path") from exc
    raw, sections, _ = read_bytes(data, kind, name=path.name)
    return raw, sections


# --- web pages ------------------------------------------------------------------------------


def normal_url(url: str) -> str:
    """A page's address as the knowledge base keys it: no fragment, lower-case scheme and host,
    no default port, "/" for an empty path (so a link written two ways is one page)."""
    url, _ = urldefrag(url.strip())
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def check_web_url(url: str) -> str:
    """A URL the crawler may fetch: http or https with a host, normalised; anything else refused."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError as exc:
        raise Invalid(f"{url!r} is not a valid URL ({exc})", field="url") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{url!r} is not an http(s) URL with a host", field="url")
    return normal_url(url)


def media_kind(content_type: str | None, url: str) -> str | None:
    """What a response is (html, text, markdown, pdf, docx), from its Content-Type, or from the
    URL's suffix when the server says only application/octet-stream (or nothing)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in MEDIA_TYPES:
        return MEDIA_TYPES[media]
    if media in ("", "application/octet-stream", "binary/octet-stream"):
        return SUFFIXES.get(Path(urlsplit(url).path).suffix.lower())
    return None


def read_page(url: str, data: bytes, kind: str, *, charset: str | None = None) -> Page:
    """A fetched page read into passages, with its links made absolute (fragment-free, http(s)
    only) and its robots meta tag honoured."""
    if kind in ("html", "text", "markdown"):
        # The declared charset (UTF-8 when none); a stray byte loses a letter, not the page.
        try:
            text = data.decode(charset or "utf-8", errors="replace")
        except LookupError:
            text = data.decode("utf-8", errors="replace")
        data = text.encode("utf-8")
    name = Path(urlsplit(url).path).name or urlsplit(url).hostname or url
    raw, sections, parser = read_bytes(data, kind, name=name)
    page = Page(raw=raw, sections=sections, title=sections[0].title.split(" > ")[0] if sections else name)
    if parser is not None:
        if parser.title.strip():
            page.title = " ".join(parser.title.split())
        base = urljoin(url, parser.base) if parser.base else url
        for href in parser.links:
            try:
                link = normal_url(urljoin(base, href))
            except ValueError:
                continue
            if link.startswith(("http://", "https://")) and link not in page.links:
                page.links.append(link)
        page.noindex = "noindex" in parser.robots or "none" in parser.robots.split(",")
        page.nofollow = "nofollow" in parser.robots or "none" in parser.robots.split(",")
        if page.noindex:
            page.sections = []
    return page


MAX_SITEMAP_URLS = 50_000  # the sitemaps protocol's own limit per file


def read_sitemap(data: bytes) -> tuple[list[str], list[str]] | None:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index, or None when ``data`` is
    not one. The standard library's parser is safe here: it fetches no external entity, and the
    expat it uses (2.4.1 and later) refuses entity-expansion bombs."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    tag = root.tag.rsplit("}", 1)[-1]
    if tag not in ("urlset", "sitemapindex"):
        return None
    locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text and el.text.strip()]
    locs = [normal_url(u) for u in locs[:MAX_SITEMAP_URLS] if u.lower().startswith(("http://", "https://"))]
    return (locs, []) if tag == "urlset" else ([], locs)
