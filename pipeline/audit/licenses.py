"""What each licence allows, in the Data Provenance Initiative's terms: use (all /
non-commercial / academic / unspecified), attribution required, share-alike, no derivatives;
its canonical URL; and an order of restrictiveness (when copies of one text carry different
licences, the most restrictive one governs).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

UNKNOWN = "unknown"
# licence ids no attribution is owed for (public domain dedications and marks)
PUBLIC_DOMAIN = {"CC0-1.0", "CC-PDM-1.0", "Unlicense", "public-domain", "LicenseRef-public-domain", "PDDL-1.0"}
PERMISSIVE_CODE = {"MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib"}
COPYLEFT = re.compile(r"^(A?GPL|LGPL|MPL|EPL|CC-BY-SA|ODbL)", re.I)
FIXED_URLS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-PDM-1.0": "https://creativecommons.org/publicdomain/mark/1.0/",
    "MIT": "https://spdx.org/licenses/MIT.html",
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "Unlicense": "https://unlicense.org/",
}


@dataclass(frozen=True)
class LicenseClass:
    license: str
    use: str                 # all | non-commercial | academic | unspecified
    attribution: bool
    share_alike: bool
    no_derivatives: bool
    url: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def classify(license_id: str | None) -> LicenseClass:
    lid = license_id or UNKNOWN
    upper = lid.upper()
    if lid == UNKNOWN:
        return LicenseClass(lid, "unspecified", False, False, False, None)
    nc = "-NC" in upper
    nd = "-ND" in upper
    sa = "-SA" in upper or bool(COPYLEFT.match(lid))
    if lid in PUBLIC_DOMAIN:
        attribution = False
    else:
        attribution = upper.startswith("CC-BY") or lid in PERMISSIVE_CODE or sa or upper.startswith("BSD")
    known = lid in PUBLIC_DOMAIN or lid in PERMISSIVE_CODE or upper.startswith(("CC-BY", "BSD")) or sa
    use = "non-commercial" if nc else ("all" if known else "unspecified")
    return LicenseClass(lid, use, attribution, sa, nd, license_url(lid))


def license_url(license_id: str) -> str | None:
    if license_id.startswith("LicenseRef-"):  # a name of the data's own, not an SPDX licence
        return None
    if license_id in FIXED_URLS:
        return FIXED_URLS[license_id]
    m = re.match(r"^CC-(BY(?:-NC)?(?:-ND|-SA)?)-(\d\.\d)$", license_id, re.I)
    if m:
        return f"https://creativecommons.org/licenses/{m.group(1).lower()}/{m.group(2)}/"
    return f"https://spdx.org/licenses/{license_id}.html" if re.match(r"^[A-Za-z0-9.+-]+$", license_id) else None


def restrictiveness(license_id: str | None) -> int:
    """Higher is more restrictive. An unknown licence ranks highest: nothing is known to be allowed."""
    c = classify(license_id)
    if c.license == UNKNOWN:
        return 6
    if c.no_derivatives:
        return 5
    if c.use == "non-commercial":
        return 4
    if c.use == "unspecified":
        return 3
    if c.share_alike:
        return 2
    return 1 if c.attribution else 0


def most_restrictive(licenses) -> str:
    ids = sorted({lic or UNKNOWN for lic in licenses})
    return max(ids, key=lambda x: (restrictiveness(x), x)) if ids else UNKNOWN


def hf_license(license_id: str) -> str:
    """The Hugging Face dataset-card licence id (lower case; `other` when it has none)."""
    if license_id == UNKNOWN:
        return "unknown"
    known = {"CC0-1.0": "cc0-1.0", "MIT": "mit", "Apache-2.0": "apache-2.0", "CC-PDM-1.0": "other"}
    if license_id in known:
        return known[license_id]
    return license_id.lower() if license_id.upper().startswith("CC-") else "other"


def evidence_type(evidence: str | None, license_id: str | None = None) -> str:
    """How a licence was found, from the snippet ingest kept (see pipeline/ingest/licenses.py);
    a licence without a snippet came with the input (a JSONL/Parquet field, `default_license`)."""
    if not evidence:
        return "declared_in_input" if license_id and license_id != UNKNOWN else "none"
    e = evidence.lower()
    if "rel=" in e and "license" in e:
        return "rel_license_link"
    if e.startswith("<meta") or "<meta" in e:
        return "meta_tag"
    if "creativecommons.org" in e or "<a" in e:
        return "page_link"
    return "declared_by_source"
