"""Which documents may be sent to a model, and the licence of what comes back.

Never sent: a licence that forbids derivatives (any `-ND`: a rewrite is a derivative), a
missing licence under `require_license`, any opt-out signal (`robots:GPTBot`, `noai`,
`tdm-reservation`, ...). They stay in the output unchanged; only no rewrite is made.

A synthetic row's licence is the parent's (ShareAlike and NonCommercial carry over with the
id itself) joined with the generator's terms when those bind outputs: a model whose licence
puts conditions on generated text (Llama's community licences, Gemma's terms, CC BY-NC
models) adds `AND LicenseRef-<terms>`; permissive model licences add nothing.
"""

from __future__ import annotations

import re

# model licences that put no conditions on the text a model writes
PERMISSIVE_MODEL_TERMS = {"apache-2.0", "mit", "bsd-3-clause", "bsd-2-clause", "cc0-1.0", "cc-by-4.0"}

_ND = re.compile(r"(^|[-_ ])ND([-_ ]|$)", re.IGNORECASE)


def not_sent_reason(license: str | None, opt_out: list | None, require_license: bool) -> str | None:
    """Why this document must not go to the model (None: it may)."""
    if opt_out:
        return "opted_out"
    if license is None or not str(license).strip():
        return "license_unknown" if require_license else None
    if _ND.search(str(license)) or "noderiv" in str(license).lower():
        return "license_no_derivatives"
    return None


def synthetic_license(parent: str | None, generator_terms: str | None) -> str | None:
    if generator_terms and generator_terms.lower() not in PERMISSIVE_MODEL_TERMS:
        terms = f"LicenseRef-{re.sub(r'[^A-Za-z0-9.-]+', '-', generator_terms)}"
        return f"{parent} AND {terms}" if parent else terms
    return parent
