"""Creative Commons license evidence from raw HTML, normalised to SPDX-style ids.

Evidence, not a decision: the license filter decides what to keep. Strongest evidence
first: a `rel="license"` link, then a <meta> rights/license tag naming a CC license, then
any link to a creativecommons.org license or public-domain tool. The matched snippet is
kept as `license_evidence` so a reviewer can check it.
"""

from __future__ import annotations

import re

# creativecommons.org/licenses/by-sa/4.0, /publicdomain/zero/1.0, /publicdomain/mark/1.0
_CC_URL = re.compile(
    r"creativecommons\.org/(?:licenses/(?P<kind>by(?:-nc)?(?:-nd|-sa)?|by-nd-nc)/(?P<ver>\d\.\d)"
    r"|publicdomain/(?P<pd>zero|mark)/(?P<pdver>\d\.\d))",
    re.I,
)
_REL_LICENSE = re.compile(r"<(?:a|link)\b[^>]*\brel\s*=\s*[\"']?[^\"'>]*\blicense\b[^>]*>", re.I)
_META_RIGHTS = re.compile(
    r"<meta\b[^>]*\b(?:name|property)\s*=\s*[\"']?(?:dc\.rights|dcterms\.rights|dc\.license|dcterms\.license|"
    r"copyright|rights|license|og:license)[\"']?[^>]*>", re.I)
_HREF = re.compile(r"""\b(?:href|content)\s*=\s*["']?([^"'\s>]+)""", re.I)
_ANY_CC = re.compile(r"""["'(=\s]((?:https?:)?//(?:www\.)?creativecommons\.org/(?:licenses|publicdomain)/[^"'\s<>)]*)""", re.I)


def spdx_from_url(url: str) -> str | None:
    """SPDX-style id for a creativecommons.org license or tool URL, or None."""
    m = _CC_URL.search(url)
    if not m:
        return None
    if m.group("pd"):
        return "CC0-1.0" if m.group("pd").lower() == "zero" else "CC-PDM-1.0"
    kind = m.group("kind").upper()
    if kind == "BY-ND-NC":  # the old 1.0 ordering
        kind = "BY-NC-ND"
    return f"CC-{kind}-{m.group('ver')}"


def detect_license(html: str) -> tuple[str | None, str | None]:
    """(license id, evidence snippet) from a page's HTML, or (None, None)."""
    if "creativecommons.org" not in html and "creativecommons.org" not in html.lower():
        return None, None
    for pattern in (_REL_LICENSE, _META_RIGHTS):
        for m in pattern.finditer(html):
            tag = m.group(0)
            for href in _HREF.findall(tag):
                lic = spdx_from_url(href)
                if lic:
                    return lic, tag[:300]
    m = _ANY_CC.search(html)
    if m:
        lic = spdx_from_url(m.group(1))
        if lic:
            start = max(0, m.start() - 120)
            return lic, html[start:m.end() + 60][:300]
    return None, None
