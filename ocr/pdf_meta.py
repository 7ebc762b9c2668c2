"""License and opt-out evidence a PDF carries itself: XMP rights (`xmpRights:*`,
`cc:license`), the TDM Reservation Protocol in XMP (`tdm:reservation`), and a
Creative Commons licence URL or name in the first or last pages' text."""

from __future__ import annotations

import re

# CC licence URL -> SPDX-style id, e.g. creativecommons.org/licenses/by-nc/1.0 -> CC-BY-NC-1.0
_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z\-]+)/(\d\.\d)", re.I)
_CC_NAME = re.compile(
    r"Creative Commons (Attribution(?:[- ](?:NonCommercial|NoDerivs|NoDerivatives|ShareAlike)){0,2})"
    r"\s*(\d\.\d)?", re.I)
_XMP_FIELD = re.compile(
    r"<(xmpRights:WebStatement|xmpRights:UsageTerms|xmpRights:Marked|cc:license|dc:rights|tdm:reservation|"
    r"tdm:policy)\b[^>]*?(?:/>|>(.*?)</\1>)|\b(xmpRights:WebStatement|cc:license|tdm:reservation|tdm:policy)"
    r"=\"([^\"]*)\"", re.S)
_TAGS = re.compile(r"<[^>]+>")
_NAME_PARTS = {"attribution": "BY", "noncommercial": "NC", "noderivs": "ND", "noderivatives": "ND",
               "sharealike": "SA"}


def spdx_from_cc_url(url: str) -> str | None:
    m = _CC_URL.search(url)
    if not m:
        return None
    kind, code, version = m.group(1).lower(), m.group(2).lower(), m.group(3)
    if kind == "publicdomain":
        return "CC0-1.0" if code == "zero" else "CC-PDM-1.0" if code == "mark" else None
    return f"CC-{code.upper()}-{version}"


def _spdx_from_cc_name(text: str) -> tuple[str, str] | None:
    m = _CC_NAME.search(text)
    if not m or not m.group(2):
        return None
    parts = [_NAME_PARTS[p.lower()] for p in re.split(r"[- ]", m.group(1)) if p.lower() in _NAME_PARTS]
    return "CC-" + "-".join(parts) + "-" + m.group(2), m.group(0)


def xmp_fields(xmp: str) -> dict[str, str]:
    """The rights-related XMP fields (element or attribute form), values stripped of tags."""
    out: dict[str, str] = {}
    for m in _XMP_FIELD.finditer(xmp or ""):
        if m.group(1):
            name, value = m.group(1), _TAGS.sub(" ", m.group(2) or "")
        else:
            name, value = m.group(3), m.group(4)
        value = " ".join(value.split())
        if value and name not in out:
            out[name] = value[:300]
    return out


def rights_evidence(xmp: str, first_text: str = "", last_text: str = "") -> dict:
    """{'license', 'license_evidence', 'opt_out'} from XMP and the text of edge pages."""
    fields = xmp_fields(xmp)
    license_id = evidence = None
    for key in ("cc:license", "xmpRights:WebStatement", "xmpRights:UsageTerms", "dc:rights"):
        v = fields.get(key)
        if v and (lic := spdx_from_cc_url(v)):
            license_id, evidence = lic, f"XMP {key}: {v}"
            break
    if license_id is None:
        for where, text in (("first pages", first_text), ("last pages", last_text)):
            m = _CC_URL.search(text or "")
            if m:
                license_id = spdx_from_cc_url(m.group(0))
                start = max(0, m.start() - 120)
                evidence = f"text ({where}): " + " ".join(text[start:m.end() + 40].split())
                break
            named = _spdx_from_cc_name(text or "")
            if named:
                license_id, evidence = named[0], f"text ({where}): {named[1]}"
                break
    opt_out = []
    tdm = fields.get("tdm:reservation")
    if tdm is not None and tdm.strip() in ("1", "true"):
        opt_out.append("tdm-reservation")
        policy = fields.get("tdm:policy")
        note = f"XMP tdm:reservation={tdm}" + (f" tdm:policy={policy}" if policy else "")
        evidence = f"{evidence}; {note}" if evidence else note
    return {"license": license_id, "license_evidence": evidence, "opt_out": opt_out}
