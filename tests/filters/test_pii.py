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
    assert counts == [{"email": 2, "ipv6": 0, "ip": 1, "phone": 3}, {"email": 0, "ipv6": 0, "ip": 0, "phone": 0}]
    assert out.counters == {"pii_email": 2, "pii_ipv6": 0, "pii_ip": 1, "pii_phone": 3}


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


IPV6_POSITIVE = [  # (text, masked text): public addresses in every written form
    ("dns 2001:4860:4860::8888 answered", "dns <IPV6_ADDRESS> answered"),
    ("full 2001:4860:4860:0000:0000:0000:0000:8888.", "full <IPV6_ADDRESS>."),
    ("upper 2A00:1450:4001:82B::200E here", "upper <IPV6_ADDRESS> here"),
    ("mapped ::ffff:8.8.8.8 here", "mapped <IPV6_ADDRESS> here"),
    ("url http://[2a00:1450:4001:82b::200e]:443/x", "url http://[<IPV6_ADDRESS>]:443/x"),
    ("two 2606:4700:4700::1111, 2606:4700:4700::1001", "two <IPV6_ADDRESS>, <IPV6_ADDRESS>"),
]
IPV6_NEGATIVE = [  # look-alikes, and addresses that are not public
    "at 12:30:45 on 2024-01-01T12:30:45Z", "mac 00:1A:2B:3C:4D:5E or 00:1a:2b:ff:fe:3c:4d:5e",
    "std::vector<int> v; a::b(); Foo::Bar; dead::beef", "python x[1::2] and a[::2] and b[::-1]",
    "loopback ::1, link-local fe80::1%eth0, docs 2001:db8::1, unique-local fd12:3456:789a::1",
    "multicast ff0e::1, mapped private ::ffff:192.168.1.1", "ratio 1:2:3:4:5:6 and chapter 3:16",
]


@pytest.mark.parametrize("text,masked", IPV6_POSITIVE)
def test_ipv6_forms_are_masked_and_counted(text, masked):
    out = PIIFilter().process(docs(text))
    assert out.table.column("text")[0].as_py() == masked
    counts = dict(out.table.column("pii_counts")[0].as_py())
    assert counts["ipv6"] == masked.count("<IPV6_ADDRESS>") and counts["ip"] == 0


@pytest.mark.parametrize("text", IPV6_NEGATIVE)
def test_ipv6_look_alikes_and_private_addresses_are_left_alone(text):
    out = PIIFilter(types=["ipv6"]).process(docs(text))
    assert out.table.column("text")[0].as_py() == text
    assert dict(out.table.column("pii_counts")[0].as_py()) == {"ipv6": 0}


def test_ipv6_all_addresses_switch_zone_and_order_of_types():
    out = PIIFilter(public_ips_only=False, types=["ip", "ipv6"]).process(
        docs("fe80::1%eth0 and 2001:db8::1 and ::ffff:10.0.0.1 and 10.0.0.2", "none"))
    assert out.table.column("text")[0].as_py() == \
        "<IPV6_ADDRESS> and <IPV6_ADDRESS> and <IPV6_ADDRESS> and <IP_ADDRESS>"
    assert [dict(m) for m in out.table.column("pii_counts").to_pylist()] == [{"ipv6": 3, "ip": 1},
                                                                           {"ipv6": 0, "ip": 0}]
    over = PIIFilter(max_per_type={"ipv6": 1}).process(docs("2606:4700:4700::1111 2606:4700:4700::1001", "x"))
    assert over.drops.column("reason").to_pylist() == ["pii_over_limit"]
    assert "ipv6=2" in over.drops.column("detail")[0].as_py()


def test_ipv6_public_check_agrees_with_ipaddress():
    from gristmill.filters.pii_ipv6 import is_address

    rng = random.Random(3)
    addrs = [ipaddress.IPv6Address(rng.getrandbits(128)) for _ in range(3000)]
    addrs += [ipaddress.IPv6Address(p) for p in ("2001:db8::1", "fe80::1", "fc00::1", "::1", "2001:4860:4860::8888")]
    for a in addrs:
        text = a.exploded  # full form: no compression, always has a digit or is MAC-shaped-free
        want = a.is_global and not a.is_multicast and (a.ipv4_mapped is None or a.ipv4_mapped.is_global)
        assert is_address(text, True) == bool(want and any(c.isdigit() for c in text)), text
