"""A small web site on 127.0.0.1 for the knowledge base's crawler: pages that can change or go,
robots.txt, sitemaps, redirects, ETag and Last-Modified answered with 304, and a log of every
request (path and the headers that matter) so that tests see what was fetched and how."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Resource:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # a redirect's target
    last_modified: str | None = None  # served instead of an ETag when set


@dataclass
class Request:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    status: int


@dataclass
class Site:
    resources: dict[str, Resource] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    port: int = 0
    _server: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, path: str, html: str) -> None:
        self.resources[path] = Resource(html.encode("utf-8"))

    def put(self, path: str, body: bytes | str, content_type: str, **kw: Any) -> None:
        self.resources[path] = Resource(body.encode("utf-8") if isinstance(body, str) else body, content_type, **kw)

    def paths(self) -> list[str]:
        return [r.path for r in self.log]

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # http.server's name for it
                resource = site.resources.get(self.path)
                inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
                if resource is not None:
                    status, body = resource.status, resource.body
                    headers = {"Content-Type": resource.content_type}
                    if resource.location:
                        headers["Location"] = resource.location
                    if resource.status == 200:
                        if resource.last_modified:
                            headers["Last-Modified"] = resource.last_modified
                            fresh = ims == resource.last_modified
                        else:
                            headers["ETag"] = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                            fresh = inm == headers["ETag"]
                        if fresh:
                            status, body = 304, b""
                site.log.append(Request(self.path, inm, ims, self.headers.get("User-Agent"), status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def docx(paragraphs: list[tuple[str | None, str]]) -> bytes:
    """A minimal Word document: (style, text) paragraphs, "Heading1"/"Heading2" or None. The
    schemas.openxmlformats.org addresses below are XML namespace names that a DOCX reader matches
    as strings (mammoth needs these exact ones); nothing ever fetches or resolves them."""
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    def para(style: str | None, text: str) -> str:
        props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        return f'<w:p>{props}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'

    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            '<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/_rels/document.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/styles" Target="styles.xml"/></Relationships>'
        ),
        "word/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><w:styles {w}>'
            '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style>'
            '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style></w:styles>'
        ),
        "word/document.xml": f'<?xml version="1.0" encoding="UTF-8"?><w:document {w}><w:body>{"".join(para(s, t) for s, t in paragraphs)}</w:body></w:document>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()
