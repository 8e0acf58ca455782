"""The logs name a client's network, never its address (api.security_headers)."""

from __future__ import annotations

import ipaddress
import random

from api.security_headers import client_network


def _by_ipaddress(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


def test_an_address_is_cut_to_its_network_and_anything_else_is_a_dash() -> None:
    assert client_network("203.0.113.9") == "203.0.113.0/24"
    assert client_network("2001:db8:85a3:8d3:1319:8a2e:370:7348") == "2001:db8:85a3::/48"
    assert client_network("::ffff:10.1.2.3") == "10.1.2.0/24"
    assert [client_network(a) for a in ("", None, "unix:/run/x", "1.2.3.04")] == ["-"] * 4


def test_the_dotted_quad_shortcut_reads_every_text_as_ipaddress_does() -> None:
    rng = random.Random(5)  # noqa: S311 - test data
    texts = [
        "1.2.3.4",
        "01.2.3.4",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        " 10.0.0.1 ",
        "1.2.3.04",
        "0.0.0.0",  # noqa: S104 - a text to read, nothing is bound
        "a.b.c.d",
        "1..2.3",
        "\u0661.2.3.4",
        "1.2.3.",
        "+1.2.3.4",
    ]
    texts += [
        ".".join(str(rng.randrange(300)).zfill(rng.choice((1, 1, 2))) for _ in range(4))
        for _ in range(3000)
    ]
    for text in texts:
        assert client_network(text) == _by_ipaddress(text), text
