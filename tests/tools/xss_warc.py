#!/usr/bin/env python3
"""Writes a small uncompressed WARC whose pages carry script-looking text, for the dashboard test.

    python3 tests/tools/xss_warc.py OUT.warc

The payloads are HTML-escaped in the page source (&lt;script&gt;…), so the extractor keeps them
as visible text: the dashboard then receives the literal characters `<script>alert(1)</script>`
from /api/dropped and must show them as text, never run them. The page is a short English
paragraph, which the default filter chain drops (gopher_quality: gopher_short_doc), so it
shows up among the dropped documents.
"""
import html
import sys
import uuid

SCRIPT_PAYLOAD = "<script>alert(1)</script>"
IMG_PAYLOAD = "<img src=x onerror=alert(2)>"
# Would set a window-level flag if it ever ran (no dialog needed to notice it).
FLAG_PAYLOAD = "<img src=y onerror=\"window.__winnow_xss=1\">"
XSS_URL = "http://xss-test.winnow.invalid/guestbook/comment?id=1"

XSS_TEXT = (f"A visitor left this comment in our garden guestbook: {SCRIPT_PAYLOAD} and then "
            f"{IMG_PAYLOAD} and also {FLAG_PAYLOAD} before we could remove it from the page.")


def page(title, paragraphs):
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in paragraphs)
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title></head>\n<body>\n<article>\n"
            f"<h1>{html.escape(title)}</h1>\n{body}</article>\n</body></html>\n")


def response_record(url, date, html_text):
    payload = html_text.encode("utf-8")
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Date: {date}\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http)}\r\n\r\n").encode()
    return head + http + b"\r\n\r\n"


def write_xss_warc(path):
    """Writes the WARC to `path`; returns (url, text) of the hostile page."""
    with open(path, "wb") as f:
        f.write(response_record(XSS_URL, "2099-01-15T12:00:00Z",
                                page("Garden guestbook", [XSS_TEXT])))
    return XSS_URL, XSS_TEXT


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    write_xss_warc(sys.argv[1])
