"""IPv6 addresses for `pii`: a columnar pre-filter, then exact validation of the few candidates.

IPv6 has too many written forms (full, `::`-compressed, IPv4-mapped `::ffff:1.2.3.4`, zone
ids `fe80::1%eth0`, brackets `[2001:db8::1]:443`) and too many look-alikes (times
`12:30:45`, MAC addresses, C++ `std::vector` and `a::b` scopes, Python slices `x[1::2]`) for
one lookaround-free Rust regex. So: one polars regex over the whole column marks the rows that
contain anything IPv6-like (few, outside code and logs); only those rows go through Python's
`re` (with lookaround for the boundaries) and `ipaddress` for the exact syntax and the public
range check. Rows without a candidate are never touched by Python.

What counts as an address (beyond being valid for `ipaddress`):
- not glued to a word, `:` or `.` on either side (so `std::a1b` and `x.a::1` are not);
- at least one decimal digit (`a::b`, `dead::beef` are far more often code than addresses);
- a compressed (`::`) address needs a group of >= 3 hex digits or an embedded IPv4, so
  `1::2` (a slice) and `::1`-style fragments are not taken;
- not MAC-shaped (every group exactly two hex digits);
- with `public_only`, globally routable and not multicast (same rule as the IPv4 pattern;
  an IPv4-mapped address is judged by its IPv4 part).
"""

from __future__ import annotations

import ipaddress
import re

import numpy as np
import polars as pl

# Rows that may hold an IPv6 address: 6+ colon-separated hex groups, or `::` next to hex.
PREFILTER = r"(?:[0-9A-Fa-f]{1,4}:){5}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f]::|::[0-9A-Fa-f]"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
CANDIDATE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:" + _IPV4 + r"|[0-9A-Fa-f]{1,4})?(?:%[0-9A-Za-z._-]+)?"
    r"(?![\w:]|\.\d)")


def is_address(candidate: str, public_only: bool) -> bool:
    addr_text = candidate.split("%", 1)[0]
    try:
        addr = ipaddress.IPv6Address(addr_text)
    except ValueError:
        return False
    if not any(c.isdigit() for c in addr_text):
        return False
    groups = [g for g in addr_text.split(":") if g]
    if "::" in addr_text and "." not in addr_text and max((len(g) for g in groups), default=0) < 3:
        return False
    if "." not in addr_text and all(len(g) == 2 for g in groups):
        return False
    if not public_only:
        return True
    v4 = addr.ipv4_mapped
    if v4 is not None:
        return v4.is_global and not v4.is_multicast and int(str(v4).split(".")[0]) < 224
    return addr.is_global and not addr.is_multicast


def mask_ipv6(text: pl.Series, placeholder: str, public_only: bool = True) -> tuple[pl.Series, pl.Series]:
    """(text with each IPv6 address replaced by `placeholder`, Int32 count per row)."""
    rows = np.flatnonzero(text.str.contains(PREFILTER).fill_null(False).to_numpy())
    counts = np.zeros(len(text), np.int32)
    if len(rows) == 0:
        return text, pl.Series(counts)
    found = 0

    def replace(m: re.Match) -> str:
        nonlocal found
        if is_address(m.group(0), public_only):
            found += 1
            return placeholder
        return m.group(0)

    new = []
    for i, s in zip(rows.tolist(), text.gather(rows).to_list()):
        found = 0
        new.append(CANDIDATE.sub(replace, s))
        counts[i] = found
    return text.clone().scatter(rows, pl.Series(new, dtype=pl.String)), pl.Series(counts)
