"""`pii`: mask e-mail addresses, public IP addresses and phone numbers with typed placeholders.

Each span becomes `<EMAIL>`, `<IP_ADDRESS>` (IPv4), `<IPV6_ADDRESS>` or `<PHONE_NUMBER>`; the
per-type counts go to
the `pii_counts` map column (every configured type, zeros included). A document with more
than `max_total` masked spans (or more than `max_per_type[type]` of one type) is dropped as
`pii_over_limit`; its drop-log preview is already masked. Regexes run column-wise (Rust
regex in polars). IPs: by default only public addresses are masked, as in datatrove's PII
formatter; private, loopback, link-local, CGNAT, documentation, benchmark, multicast and
reserved ranges are excluded inside the pattern itself (no per-match Python check). IPv6
(pii_ipv6.py): a columnar pre-filter picks the rare rows with IPv6-like text; only those are
checked in Python with `ipaddress`. Types run in a fixed order (email, ipv6, ip, phone): an
IPv4-mapped IPv6 address is one IPv6 span, not an IPv6 prefix around a masked IPv4.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from gristmill.filters import text_columns as tc
from gristmill.filters.pii_ipv6 import mask_ipv6
from gristmill.pipeline.params import param
from gristmill.pipeline.stage import Stage, StageOutput, split_by_reason

EMAIL = (r"(?-u:\b)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
         r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")
PHONE = (r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}(?-u:\b)"
         r"|(?:\(\d{3}\)[ .-]?|(?-u:\b)\d{3}[ .-])\d{3}[ .-]\d{4}(?-u:\b)")


def _alt(*ranges) -> str:
    """Regex alternation of the octet values in the inclusive ranges, longest first."""
    values = sorted({v for lo, hi in ranges for v in range(lo, hi + 1)}, reverse=True)
    return "(?:" + "|".join(map(str, values)) + ")"


def public_ipv4() -> str:
    o = _alt((0, 255))
    special = {0, 10, 100, 127, 169, 172, 192, 198, 203}
    plain = _alt(*[(v, v) for v in range(1, 224) if v not in special])
    branches = [
        rf"{plain}\.{o}\.{o}",
        rf"100\.{_alt((0, 63), (128, 255))}\.{o}",          # 100.64/10 is carrier-grade NAT
        rf"169\.{_alt((0, 253), (255, 255))}\.{o}",         # 169.254/16 link-local
        rf"172\.{_alt((0, 15), (32, 255))}\.{o}",           # 172.16/12 private
        rf"192\.{_alt((1, 167), (169, 255))}\.{o}",         # 192.168/16 private, 192.0.x below
        rf"192\.0\.{_alt((1, 1), (3, 255))}",               # 192.0.0/24 IETF, 192.0.2/24 docs
        rf"198\.{_alt((0, 17), (20, 50), (52, 255))}\.{o}",  # 198.18/15 benchmarking
        rf"198\.51\.{_alt((0, 99), (101, 255))}",           # 198.51.100/24 docs
        rf"203\.{_alt((1, 255))}\.{o}", rf"203\.0\.{_alt((0, 112), (114, 255))}",  # 203.0.113/24 docs
    ]
    return rf"(?-u:\b)(?:{'|'.join(branches)})\.{o}(?-u:\b)"


def any_ipv4() -> str:
    o = _alt((0, 255))
    return rf"(?-u:\b){o}\.{o}\.{o}\.{o}(?-u:\b)"


PLACEHOLDERS = {"email": "<EMAIL>", "ipv6": "<IPV6_ADDRESS>", "ip": "<IP_ADDRESS>", "phone": "<PHONE_NUMBER>"}


class PIIFilter(Stage):
    """Mask e-mails, public IP addresses and phone numbers; drop documents with too many."""

    name = "pii"
    reads = ("text",)
    adds = ("pii_counts",)

    @dataclass(frozen=True)
    class Params:
        types: list[str] = param(list(PLACEHOLDERS), "what to mask (an empty list: all of them)",
                                 choices=tuple(PLACEHOLDERS))
        max_total: int | None = param(50, "more masked spans drop the document as pii_over_limit (null: never)")
        max_per_type: dict[str, int] = param({}, "{type: n}: more spans of one type drop the document")
        public_ips_only: bool = param(True, "mask only public IP addresses (not private, loopback, docs...)")
        placeholders: dict[str, str] = param({}, "{type: text} replacing the default <EMAIL>-style placeholders")

    def setup(self, ctx=None):
        types = list(self.cfg.types or PLACEHOLDERS)  # unknown types were refused when the params were read
        self.public_only = self.cfg.public_ips_only
        ip = public_ipv4() if self.public_only else any_ipv4()
        # fixed order whatever the params say: e-mails first (their domains may hold IPs or
        # digits), IPv6 before IPv4 (`::ffff:1.2.3.4` is one address)
        self.patterns = {t: {"email": EMAIL, "ipv6": None, "ip": ip, "phone": PHONE}[t]
                         for t in PLACEHOLDERS if t in types}
        self.placeholders = {**PLACEHOLDERS, **self.cfg.placeholders}

    def process(self, table: pa.Table, ctx=None) -> StageOutput:
        self.ensure_setup(ctx.step if ctx is not None else None)
        df = pl.DataFrame({"text": tc.text_series(table)})
        for t, pattern in self.patterns.items():
            if t == "ipv6":
                masked, found = mask_ipv6(df["text"], self.placeholders[t], self.public_only)
                df = df.with_columns(masked.alias("text"), found.alias(t))
                continue
            df = df.with_columns(pl.col("text").str.count_matches(pattern).cast(pl.Int32).alias(t)) \
                   .with_columns(pl.col("text").str.replace_all(pattern, self.placeholders[t], literal=False))
        types = list(self.patterns)
        total = pl.sum_horizontal(types) if types else pl.lit(0)
        over = pl.lit(False)
        if self.cfg.max_total is not None:
            over = over | (total > self.cfg.max_total)
        for t, limit in self.cfg.max_per_type.items():
            over = over | (pl.col(t) > int(limit))
        out = df.select("text", *types, reason=pl.when(over).then(pl.lit("pii_over_limit")),
                        detail=pl.concat_str([pl.format(f"{t}={{}}", pl.col(t)) for t in types], separator=" "))
        n = table.num_rows
        keys = pa.array(types * n, pa.string())
        values = pa.array(out.select(pl.concat_list(types)).to_series().explode().to_list() if types else [], pa.int32())
        counts = pa.MapArray.from_arrays(pa.array([i * len(types) for i in range(n + 1)], pa.int32()), keys, values)
        table = table.set_column(table.column_names.index("text"), "text",
                                 out["text"].to_arrow().cast(table.schema.field("text").type))
        if "pii_counts" in table.column_names:
            table = table.drop_columns(["pii_counts"])
        table = table.append_column("pii_counts", counts)
        return split_by_reason(table, out["reason"].to_arrow(), self.versioned_name, detail=out["detail"].to_arrow(),
                               counters={f"pii_{t}": int(out[t].sum()) for t in types})
