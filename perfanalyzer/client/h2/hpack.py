"""HPACK (RFC 7541): a full decoder and a stateless encoder.

* :class:`Decoder` decodes header blocks: indexed fields, literals with / without / never
  indexing, dynamic table size updates, Huffman-coded strings, eviction by the RFC's entry size
  (name + value + 32 octets).
* :func:`encode` writes a header block that never touches the peer's dynamic table: a field equal
  to a static-table entry is indexed, any other is a literal without indexing (with the static
  table's name index where there is one). The same headers therefore always give the same bytes,
  which is what lets the gRPC client encode its request headers once per connection.

Names and values are ``str`` decoded as Latin-1 (octet-preserving: ``len(str) == octets``).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import huffman

#: RFC 7541 Appendix A; index 1 is ``STATIC_TABLE[0]``.
STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""),
    ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""), ("set-cookie", ""),
    ("strict-transport-security", ""), ("transfer-encoding", ""), ("user-agent", ""),
    ("vary", ""), ("via", ""), ("www-authenticate", ""),
)
_STATIC_LEN = len(STATIC_TABLE)
_STATIC_FIELD = {field: i + 1 for i, field in reversed(list(enumerate(STATIC_TABLE)))}
_STATIC_NAME = {name: i + 1 for i, (name, _v) in reversed(list(enumerate(STATIC_TABLE)))}
ENTRY_OVERHEAD = 32
DEFAULT_TABLE_SIZE = 4096


class HpackError(ValueError):
    """A header block that cannot be decoded (a COMPRESSION_ERROR in HTTP/2 terms)."""


# -- primitives ---------------------------------------------------------------------------------

def encode_integer(value: int, prefix_bits: int, flags: int = 0) -> bytes:
    """``value`` with an N-bit prefix (RFC 7541 5.1); ``flags`` fills the octet's high bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_integer(data: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    """(value, next position) of the integer whose prefix is in ``data[pos]``."""
    limit = (1 << prefix_bits) - 1
    value = data[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(data):
            raise HpackError("truncated integer")
        byte = data[pos]
        pos += 1
        value += (byte & 127) << shift
        if not byte & 128:
            return value, pos
        shift += 7
        if shift > 56:
            raise HpackError("integer too large")


def encode_string(value: bytes, use_huffman: bool = False) -> bytes:
    """A string literal (RFC 7541 5.2), raw or Huffman-coded."""
    if use_huffman:
        coded = huffman.encode(value)
        return encode_integer(len(coded), 7, 0x80) + coded
    return encode_integer(len(value), 7) + value


def _decode_string(data: bytes, pos: int) -> tuple[str, int]:
    is_huffman = data[pos] & 0x80
    length, pos = decode_integer(data, pos, 7)
    end = pos + length
    if end > len(data):
        raise HpackError("truncated string literal")
    raw = data[pos:end]
    if is_huffman:
        try:
            raw = huffman.decode(raw)
        except huffman.HuffmanError as exc:
            raise HpackError(str(exc)) from exc
    return raw.decode("latin-1"), end


# -- encoder ------------------------------------------------------------------------------------

def encode(headers: Iterable[tuple[str, str]], use_huffman: bool = False) -> bytes:
    """A header block for ``headers`` that leaves the decoder's dynamic table untouched."""
    out = bytearray()
    for name, value in headers:
        index = _STATIC_FIELD.get((name, value))
        if index is not None:
            out += encode_integer(index, 7, 0x80)
            continue
        name_index = _STATIC_NAME.get(name, 0)
        out += encode_integer(name_index, 4)
        if not name_index:
            out += encode_string(name.encode("latin-1"), use_huffman)
        out += encode_string(value.encode("latin-1"), use_huffman)
    return bytes(out)


# -- decoder ------------------------------------------------------------------------------------

class Decoder:
    """Decodes the header blocks of one connection direction, in order.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE this side advertised: the peer may
    shrink the table with size updates, never grow it past that. After :meth:`decode`,
    :attr:`mutated` says whether the block changed the dynamic table (the connection may cache
    the decoded form of blocks that did not, until one that does)."""

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE) -> None:
        self.max_allowed = max_table_size
        self.max_size = max_table_size
        self.size = 0
        self.entries: list[tuple[str, str]] = []  # oldest first
        self.mutated = False

    def dynamic_table(self) -> list[tuple[str, str]]:
        """The dynamic table, newest entry first (index 62 first)."""
        return self.entries[::-1]

    def _field(self, index: int) -> tuple[str, str]:
        if 0 < index <= _STATIC_LEN:
            return STATIC_TABLE[index - 1]
        k = index - _STATIC_LEN
        if index == 0 or k > len(self.entries):
            raise HpackError(f"header table index {index} out of range")
        return self.entries[-k]

    def _add(self, field: tuple[str, str]) -> None:
        self.mutated = True
        need = len(field[0]) + len(field[1]) + ENTRY_OVERHEAD
        self._evict_to(self.max_size - need)
        if need <= self.max_size:  # larger than the table: the table ends up empty (RFC 4.4)
            self.entries.append(field)
            self.size += need

    def _evict_to(self, limit: int) -> None:
        entries = self.entries
        while entries and self.size > limit:
            name, value = entries.pop(0)
            self.size -= len(name) + len(value) + ENTRY_OVERHEAD

    def _resize(self, size: int) -> None:
        if size > self.max_allowed:
            raise HpackError(f"table size update to {size} exceeds {self.max_allowed}")
        self.mutated = True
        self.max_size = size
        self._evict_to(size)

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        """The header list of ``block``; raises :class:`HpackError` when malformed."""
        self.mutated = False
        out: list[tuple[str, str]] = []
        pos, end = 0, len(block)
        try:
            while pos < end:
                byte = block[pos]
                if byte & 0x80:  # indexed field
                    index, pos = decode_integer(block, pos, 7)
                    out.append(self._field(index))
                elif byte & 0xC0 == 0x40:  # literal with incremental indexing
                    field, pos = self._literal(block, pos, 6)
                    self._add(field)
                    out.append(field)
                elif byte & 0xE0 == 0x20:  # dynamic table size update
                    if out:
                        raise HpackError("table size update after a header field")
                    size, pos = decode_integer(block, pos, 5)
                    self._resize(size)
                else:  # literal without indexing (0000) / never indexed (0001)
                    field, pos = self._literal(block, pos, 4)
                    out.append(field)
        except IndexError as exc:
            raise HpackError("truncated header block") from exc
        return out

    def _literal(self, block: bytes, pos: int, prefix_bits: int) -> tuple[tuple[str, str], int]:
        index, pos = decode_integer(block, pos, prefix_bits)
        if index:
            name = self._field(index)[0]
        else:
            name, pos = _decode_string(block, pos)
        value, pos = _decode_string(block, pos)
        return (name, value), pos
