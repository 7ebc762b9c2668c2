"""Bytes of an HTML/text payload to Unicode.

Order, cheapest and most reliable first: a BOM; strict UTF-8 (most of the web, and a
non-ASCII byte string that decodes as UTF-8 is almost never anything else); the charset
the server or the page declares, if the bytes decode strictly with it; otherwise uchardet's
guess (resiliparse), decoded leniently so a bad byte never loses a page.
"""

from __future__ import annotations

import codecs
import re

# Declared labels that browsers (WHATWG Encoding Standard) read as a superset codec.
SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932", "sjis": "cp932",
    "x-sjis": "cp932", "windows-31j": "cp932", "big5": "big5hkscs", "x-euc-jp": "euc_jp",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def normalise_label(label: str | None) -> str | None:
    """A Python codec name for a declared charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_in_html(body: bytes) -> str | None:
    """The charset named by a <meta charset> or http-equiv tag in the first 4 KiB."""
    m = _META_CHARSET.search(body[:4096])
    return m.group(1).decode("ascii", "ignore") if m else None


def decode(body: bytes, http_charset: str | None = None, html: bool = True) -> tuple[str, str]:
    """(text, codec used) for a payload; never raises on bad bytes."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for label in (http_charset, declared_in_html(body) if html else None):
        codec = normalise_label(label)
        if codec and codec not in ("utf-8", "utf_8"):
            try:
                return body.decode(codec), codec
            except (UnicodeDecodeError, LookupError):
                continue
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding  # here: keeps the CLI import light

    guess = detect_encoding(body) or "cp1252"
    codec = normalise_label(guess) or "cp1252"
    return bytes_to_str(body, codec, errors="replace"), codec
