"""Hand-written WARC records for the ingest tests (built with warcio's writer)."""

from __future__ import annotations

import io

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ARTICLE = ("<p>The river valley was settled early in the bronze age, and the first farmers cleared the "
           "forests along its banks to plant barley and wheat in long narrow fields.</p>"
           "<p>Later generations built stone walls, mills and a small harbour, and the village grew into "
           "a market town that traded wool, grain and timber with the cities of the coast.</p>")


def html_page(head: str = "", body: str = ARTICLE) -> bytes:
    return (f"<!DOCTYPE html><html><head><title>Valley history</title>{head}</head>"
            f"<body><article><h1>Valley history</h1>{body}</article></body></html>").encode("utf-8")


def response(writer, url, body: bytes, status="200 OK", content_type="text/html; charset=utf-8", headers=()):
    http = StatusAndHeaders(status, [("Content-Type", content_type), *headers], protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict={"WARC-Date": "2024-05-18T01:58:10Z"})
    writer.write_record(rec)


def build_warc(path: str) -> None:
    """One record per reason code and signal the stage knows."""
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        w.write_record(w.create_warcinfo_record("test.warc.gz", {"software": "gristmill-test"}))
        req = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
        w.write_record(w.create_warc_record("https://example.org/", "request", http_headers=req))
        # a CC-licensed page with every opt-out signal
        response(w, "https://example.org/licensed", html_page(
            head='<meta name="robots" content="noai, noimageai"><meta name="tdm-reservation" content="1">',
            body=ARTICLE + '<p>Text under <a rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">'
                           'CC BY-SA 4.0</a>.</p>'),
            headers=[("X-Robots-Tag", "noai"), ("tdm-reservation", "1")])
        # a public-domain-dedicated page, and one linking the public domain mark only
        response(w, "https://example.org/cc0", html_page(
            body=ARTICLE + '<a href="http://creativecommons.org/publicdomain/zero/1.0/">CC0</a>'))
        response(w, "https://other.example.net/pdm", html_page(
            head='<meta name="dc.rights" content="https://creativecommons.org/publicdomain/mark/1.0/">'))
        # robots.txt for example.org: GPTBot may not fetch /licensed
        response(w, "https://example.org/robots.txt",
                 b"User-agent: GPTBot\nDisallow: /licensed\n\nUser-agent: *\nDisallow: /private\n",
                 content_type="text/plain")
        response(w, "https://example.org/private/page", html_page())
        response(w, "https://example.org/missing", html_page(), status="404 Not Found")
        response(w, "https://example.org/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png")
        response(w, "https://example.org/paper.pdf", b"%PDF-1.4\n%fake but queued\n", content_type="application/pdf")
        response(w, "https://example.org/empty", b"<html><body><script>var x=1;</script></body></html>")
        response(w, "https://example.org/notes.txt", "Plain text notes, in UTF-8: café.".encode("utf-8"),
                 content_type="text/plain")
        # windows-1251 page declared only in a <meta> tag
        response(w, "https://example.ru/", ('<html><head><meta charset="windows-1251"></head><body><p>'
                                            + "Москва — столица России, крупнейший по численности населения город страны. " * 4
                                            + "</p></body></html>").encode("cp1251"), content_type="text/html")
        rev = w.create_revisit_record("https://example.org/licensed", digest="sha1:AAAA",
                                      refers_to_uri="https://example.org/licensed", refers_to_date="2024-05-18T01:58:10Z")
        w.write_record(rev)
        w.write_record(w.create_warc_record("https://example.org/licensed", "metadata",
                                            payload=io.BytesIO(b"fetchTimeMs: 12\n"),
                                            warc_content_type="application/warc-fields"))
