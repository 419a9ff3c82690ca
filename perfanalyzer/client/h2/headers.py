"""HPACK (RFC 7541) for the lean gRPC channel, done by the ``hpack`` library (python-hyper).

* :func:`encode` writes a header block that never touches the peer's dynamic table: a field
  equal to a static-table entry is indexed, any other is a literal never indexed (with the static
  table's name index where there is one). The same headers therefore always give the same bytes,
  which is what lets the channel encode its request headers once and send them on every call.
* :class:`Decoder` decodes one connection direction's header blocks in order and says, after
  each, whether the block changed the dynamic table (:attr:`Decoder.mutated`): the connection
  caches the decoded summary of blocks that did not, so constant response blocks cost a dict
  lookup, not a decode.

Names and values are ``str`` decoded as Latin-1 (octet-preserving).
"""

from __future__ import annotations

from collections.abc import Iterable

import hpack

#: RFC 7541 4.2 default, and what the channel advertises (it sends no SETTINGS_HEADER_TABLE_SIZE).
DEFAULT_TABLE_SIZE = 4096


class HpackError(ValueError):
    """A header block that cannot be decoded (a COMPRESSION_ERROR in HTTP/2 terms)."""


def encode(headers: Iterable[tuple[str, str]], use_huffman: bool = False) -> bytes:
    """A header block for ``headers`` that leaves the decoder's dynamic table untouched.

    A fresh encoder per block, and every field flagged sensitive: the library then indexes only
    perfect static-table matches and writes the rest as never-indexed literals, adding nothing to
    its (or the peer's) dynamic table."""
    fields = [hpack.NeverIndexedHeaderTuple(name.encode("latin-1"), value.encode("latin-1"))
              for name, value in headers]
    return bytes(hpack.Encoder().encode(fields, huffman=use_huffman))


class Decoder:
    """The header blocks of one connection direction, decoded in order.

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE this side advertised: the peer may
    shrink the table with size updates, never grow it past that."""

    def __init__(self, max_table_size: int = DEFAULT_TABLE_SIZE) -> None:
        self._decoder = hpack.Decoder()
        self._decoder.max_allowed_table_size = max_table_size
        self._decoder.header_table_size = max_table_size
        self._table = self._decoder.header_table
        #: Did the last :meth:`decode` change the dynamic table (entries added, evicted or the
        #: table resized)? Cached decodings that use dynamic indices are stale then.
        self.mutated = False

    def _state(self) -> tuple[int, int, object]:
        entries = self._table.dynamic_entries
        # A new entry is a new tuple at the left end: the newest object changes on every
        # insertion (compared by identity: the same field added again is a change too).
        return len(entries), self._table.maxsize, entries[0] if entries else None

    def dynamic_table(self) -> list[tuple[str, str]]:
        """The dynamic table, newest entry first (index 62 first)."""
        return [(n.decode("latin-1"), v.decode("latin-1"))
                for n, v in self._table.dynamic_entries]

    @property
    def size(self) -> int:
        """The table's size in RFC 7541 octets (name + value + 32 per entry)."""
        return int(self._table._current_size)

    def decode(self, block: bytes) -> list[tuple[str, str]]:
        """The header list of ``block``; raises :class:`HpackError` when malformed."""
        before = self._state()
        try:
            fields = self._decoder.decode(block, raw=True)
        except hpack.HPACKError as exc:
            raise HpackError(str(exc) or type(exc).__name__) from exc
        finally:
            after = self._state()
            self.mutated = after[:2] != before[:2] or after[2] is not before[2]
        return [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1")) for n, v in fields]


__all__ = ["DEFAULT_TABLE_SIZE", "Decoder", "HpackError", "encode"]
