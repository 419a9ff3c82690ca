"""HPACK through the ``hpack`` library (perfanalyzer/client/h2/headers.py): RFC 7541 Appendix C
header block series decoded through our wrapper (with its ``mutated`` flag, which the connection's
decode cache relies on), malformed blocks as HpackError, and the stateless encoder's contract
(static indices, never-indexed literals, the same bytes every time)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfanalyzer.client.h2.headers import Decoder, HpackError, encode


def dehex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# -- decoder: RFC 7541 C.2 - C.6 ----------------------------------------------------------------

@pytest.mark.parametrize(("wire", "headers", "table"), [
    ("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",  # C.2.1
     [("custom-key", "custom-header")], [("custom-key", "custom-header")]),
    ("040c 2f73 616d 706c 652f 7061 7468", [(":path", "/sample/path")], []),  # C.2.2
    ("1008 7061 7373 776f 7264 0673 6563 7265 74", [("password", "secret")], []),  # C.2.3
    ("82", [(":method", "GET")], []),  # C.2.4
])
def test_single_representations(wire: str, headers: list[tuple[str, str]],
                                table: list[tuple[str, str]]) -> None:
    d = Decoder()
    assert d.decode(dehex(wire)) == headers
    assert d.dynamic_table() == table
    assert d.mutated == bool(table)


REQ1 = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")]
REQ2 = [*REQ1, ("cache-control", "no-cache")]
REQ3 = [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
        (":authority", "www.example.com"), ("custom-key", "custom-value")]
T1 = [(":authority", "www.example.com")]
T2 = [("cache-control", "no-cache"), *T1]
T3 = [("custom-key", "custom-value"), *T2]
C3 = [  # C.3: requests without Huffman
    ("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", REQ1, T1, 57),
    ("8286 84be 5808 6e6f 2d63 6163 6865", REQ2, T2, 110),
    ("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", REQ3, T3, 164),
]
C4 = [  # C.4: the same with Huffman
    ("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", REQ1, T1, 57),
    ("8286 84be 5886 a8eb 1064 9cbf", REQ2, T2, 110),
    ("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", REQ3, T3, 164),
]
DATE1, DATE2 = "Mon, 21 Oct 2013 20:13:21 GMT", "Mon, 21 Oct 2013 20:13:22 GMT"
LOC = "https://www.example.com"
COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
RESP1 = [(":status", "302"), ("cache-control", "private"), ("date", DATE1), ("location", LOC)]
RESP2 = [(":status", "307"), *RESP1[1:]]
RESP3 = [(":status", "200"), ("cache-control", "private"), ("date", DATE2), ("location", LOC),
         ("content-encoding", "gzip"), ("set-cookie", COOKIE)]
RT1 = [("location", LOC), ("date", DATE1), ("cache-control", "private"), (":status", "302")]
RT2 = [(":status", "307"), *RT1[:3]]
RT3 = [("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", DATE2)]
C5 = [  # C.5: responses without Huffman, 256-octet table (evictions)
    ("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a "
     "3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
     RESP1, RT1, 222),
    ("4803 3330 37c1 c0bf", RESP2, RT2, 222),
    ("88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 "
     "677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 "
     "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31", RESP3, RT3, 215),
]
C6 = [  # C.6: the same with Huffman
    ("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e "
     "919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", RESP1, RT1, 222),
    ("4883 640e ffc1 c0bf", RESP2, RT2, 222),
    ("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 "
     "821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed "
     "4ee5 b106 3d50 07", RESP3, RT3, 215),
]


@pytest.mark.parametrize(("table_size", "steps"), [(4096, C3), (4096, C4), (256, C5), (256, C6)],
                         ids=["C.3", "C.4", "C.5", "C.6"])
def test_rfc_header_block_series(table_size: int, steps: list[tuple[str, list[tuple[str, str]],
                                                                 list[tuple[str, str]], int]]
                                 ) -> None:
    d = Decoder(table_size)
    for wire, headers, table, size in steps:
        assert d.decode(dehex(wire)) == headers
        assert d.dynamic_table() == table
        assert d.size == size
        assert d.mutated


def test_table_size_updates_and_eviction() -> None:
    d = Decoder()
    d.decode(dehex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))
    assert d.size == 55 and d.mutated
    d.decode(b"\x82")  # a static index leaves the table alone
    assert not d.mutated
    d.decode(b"\x20")  # size update to 0 evicts everything
    assert d.dynamic_table() == [] and d.size == 0 and d.mutated
    with pytest.raises(HpackError):
        d.decode(dehex("3fe2 1f"))  # 4097 > the advertised 4096


def test_same_field_added_again_counts_as_a_change() -> None:
    d = Decoder(60)  # room for one entry
    block = b"\x40\x01k\x01x"
    d.decode(block)
    assert d.mutated
    d.decode(block)  # the entry is replaced by an equal one: still a change
    assert d.mutated


@pytest.mark.parametrize("wire", ["80", "be", "4a", "0f", "820a", "41ff"])
def test_malformed_blocks(wire: str) -> None:
    # index 0, dynamic index beyond the table, truncated literals and strings
    with pytest.raises(HpackError):
        Decoder().decode(dehex(wire))


def test_bad_huffman_in_block() -> None:
    with pytest.raises(HpackError):
        Decoder().decode(b"\x04\x81\x00")


# -- encoder --------------------------------------------------------------------------------------

def test_encoder_uses_static_table_and_never_indexes() -> None:
    assert encode([(":method", "GET")]) == b"\x82"  # C.2.4
    assert encode([(":path", "/sample/path")]) == dehex("140c 2f73 616d 706c 652f 7061 7468")
    assert encode([("password", "secret")]) == dehex("1008 7061 7373 776f 7264 0673 6563 7265 74")
    grpc_headers = [(":method", "POST"), (":scheme", "http"),
                    (":path", "/inference.GRPCInferenceService/ModelInfer"),
                    (":authority", "127.0.0.1:8001"), ("content-type", "application/grpc"),
                    ("te", "trailers"), ("x-run", "r1")]
    block = encode(grpc_headers)
    assert block == encode(grpc_headers)  # stateless: encoded once, sent on every call
    assert block[:2] == b"\x83\x86"
    d = Decoder()
    for _ in range(2):  # the same bytes decode the same, and leave no table state behind
        assert d.decode(block) == grpc_headers
        assert not d.mutated and d.dynamic_table() == []


_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


@given(st.lists(st.tuples(_TEXT.filter(bool), _TEXT), max_size=8), st.booleans())
def test_encode_decode_round_trip(headers: list[tuple[str, str]], use_huffman: bool) -> None:
    assert Decoder().decode(encode(headers, use_huffman)) == headers
