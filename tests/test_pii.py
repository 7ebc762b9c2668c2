import ipaddress
import random

import polars as pl
import pyarrow as pa
import pytest

from gristmill.filters.pii import PIIFilter, public_ipv4
from gristmill.pipeline import registry


def docs(*texts):
    return pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": pa.array(texts, pa.large_string())})


def test_masks_each_type_with_its_placeholder_and_counts_it():
    text = ("Write to jane.doe@example.co.uk or ops+alerts@mail-relay.org. Server 8.8.8.8 answered, "
            "router 192.168.1.1 did not. Call +44 20 7946 0958, (555) 123-4567 or 555.123.4567.")
    out = PIIFilter().process(docs(text, "nothing personal here, version 1.2.3, 1 000 000 people"))
    masked = out.table.column("text").to_pylist()
    assert masked[0].count("<EMAIL>") == 2 and masked[0].count("<IP_ADDRESS>") == 1
    assert masked[0].count("<PHONE_NUMBER>") == 3 and "192.168.1.1" in masked[0]
    assert "jane" not in masked[0] and "8.8.8.8" not in masked[0]
    assert masked[1] == "nothing personal here, version 1.2.3, 1 000 000 people"
    counts = [dict(m) for m in out.table.column("pii_counts").to_pylist()]
    assert counts == [{"email": 2, "ip": 1, "phone": 3}, {"email": 0, "ip": 0, "phone": 0}]
    assert out.counters == {"pii_email": 2, "pii_ip": 1, "pii_phone": 3}


def test_drops_documents_over_the_limit_with_a_masked_preview():
    many = " ".join(f"user{i}@example.com" for i in range(6))
    out = PIIFilter(max_total=5).process(docs(many, "one a@b.org"))
    assert out.table.column("id").to_pylist() == ["d1"]
    row = out.drops.to_pylist()[0]
    assert row["reason"] == "pii_over_limit" and row["detail"].startswith("email=6")
    assert "@" not in row["text_preview"]
    per_type = PIIFilter(max_total=None, max_per_type={"email": 0}).process(docs("one a@b.org", "none"))
    assert per_type.drops.column("id").to_pylist() == ["d0"]


def test_public_ip_pattern_agrees_with_ipaddress_is_global():
    rng = random.Random(7)
    addrs = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(20000)]
    addrs += ["10.1.2.3", "172.16.0.1", "172.32.0.1", "100.64.0.1", "169.254.1.1", "192.0.2.5", "198.51.100.7",
              "203.0.113.9", "198.18.0.1", "127.0.0.1", "0.1.2.3", "1.1.1.1"]
    found = pl.Series(addrs).str.contains(f"^(?:{public_ipv4()})$").to_list()
    # is_global also counts multicast (224/4) as global; gristmill never masks 224-255
    expected = [ipaddress.ip_address(a).is_global and int(a.split(".")[0]) < 224 for a in addrs]
    assert found == expected


def test_only_public_ips_switch_and_bad_type():
    out = PIIFilter(public_ips_only=False, types=["ip"]).process(docs("lan 192.168.0.1"))
    assert out.table.column("text")[0].as_py() == "lan <IP_ADDRESS>"
    with pytest.raises(ValueError):
        PIIFilter(types=["ssn"]).process(docs("x"))


def test_registered_and_schema_column():
    from gristmill.pipeline.schema import conform

    out = registry.resolve("pii@1")().process(docs("mail a@b.org"))
    assert conform(out.table).schema.field("pii_counts").type == pa.map_(pa.string(), pa.int32())
