"""Opt-out signals in a response's HTTP headers and HTML `<meta>` tags (evidence only).

Values follow the project convention: `noai`, `noimageai` (X-Robots-Tag header or meta
robots), `tdm-reservation` (TDMRep: `tdm-reservation: 1` header, or
`<meta name="tdm-reservation" content="1">`). robots.txt signals come from `robots`.
"""

from __future__ import annotations

import re

_META = re.compile(r"<meta\b[^>]*>", re.I)
_NAME = re.compile(r"""\bname\s*=\s*["']?([^"'\s>]+)""", re.I)
_CONTENT = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
ROBOTS_NAMES = {"robots", "googlebot", "gptbot", "ccbot", "claudebot", "bingbot"}
DIRECTIVES = ("noai", "noimageai")


def _directives(value: str) -> set[str]:
    """noai/noimageai in a robots directive list; `X-Robots-Tag: gptbot: noai` counts too."""
    found = set()
    for part in re.split(r"[,\s]+", value.lower()):
        part = part.rsplit(":", 1)[-1]
        if part in DIRECTIVES:
            found.add(part)
    return found


def _truthy(value: str) -> bool:
    return value.strip().strip("\"'") in ("1", "true", "yes")


def header_signals(headers: dict | None) -> set[str]:
    if not headers:
        return set()
    out = set()
    xrt = headers.get("x-robots-tag")
    if xrt:
        out |= _directives(xrt)
    tdm = headers.get("tdm-reservation")
    if tdm and _truthy(tdm):
        out.add("tdm-reservation")
    return out


def meta_signals(html: str) -> set[str]:
    """Signals from <meta> tags in the document head (first 64 KiB)."""
    head = html[:65536]
    # ASCII-lowered bytes (as licenses.mentions), not head.lower(): only a dotted capital I
    # ending "noaİ" told them apart, and no tag value lowers to a directive through it
    low = head.encode("utf-8", "surrogatepass").lower()
    if b"noai" not in low and b"noimageai" not in low and b"tdm-reservation" not in low:
        return set()
    out = set()
    for tag in _META.findall(head):
        nm = _NAME.search(tag)
        if not nm:
            continue
        name = nm.group(1).lower()
        cm = _CONTENT.search(tag)
        content = next((g for g in cm.groups() if g is not None), "") if cm else ""
        if name in ROBOTS_NAMES:
            out |= _directives(content)
        elif name == "tdm-reservation" and _truthy(content):
            out.add("tdm-reservation")
    return out
