"""The HPACK Huffman code (RFC 7541, Appendix B).

The code is canonical: codes of one length are consecutive in symbol order, and each length's
first code follows the previous length's last one. So the table is fully described by which
symbols have which code length (:data:`SYMBOLS_BY_LENGTH`); the codes are derived from it.
Symbol 256 is EOS, which must never appear inside a string.
"""

from __future__ import annotations

EOS = 256

#: Code length in bits -> the symbols (byte values, 256 = EOS) with a code of that length.
SYMBOLS_BY_LENGTH: dict[int, tuple[int, ...]] = {
    5: tuple(b"012aceiost"),
    6: tuple(b" %-./3456789=A_bdfghlmnpru"),
    7: tuple(b":BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz"),
    8: tuple(b"&*,;XZ"),
    10: tuple(b"!\"()?"),
    11: tuple(b"'+|"),
    12: tuple(b"#>"),
    13: (0, *b"$@[]~"),
    14: tuple(b"^}"),
    15: tuple(b"<`{"),
    19: (92, 195, 208),
    20: (128, 130, 131, 162, 184, 194, 224, 226),
    21: (153, 161, 167, 172, 176, 177, 179, 209, 216, 217, 227, 229, 230),
    22: (129, 132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169, 170, 173, 178, 181, 185,
         186, 187, 189, 190, 196, 198, 228, 232, 233),
    23: (1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157, 158, 165, 166,
         168, 174, 175, 180, 182, 183, 188, 191, 197, 231, 239),
    24: (9, 142, 144, 145, 148, 159, 171, 206, 215, 225, 236, 237),
    25: (199, 207, 234, 235),
    26: (192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255),
    27: (203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252,
         253, 254),
    28: (2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29,
         30, 31, 127, 220, 249),
    30: (10, 13, 22, EOS),
}


def _canonical() -> list[tuple[int, int]]:
    """(code, length) for every symbol 0..256, assigned canonically."""
    codes: list[tuple[int, int]] = [(0, 0)] * 257
    code, prev = 0, 0
    for length in sorted(SYMBOLS_BY_LENGTH):
        code <<= length - prev
        for sym in sorted(SYMBOLS_BY_LENGTH[length]):
            codes[sym] = (code, length)
            code += 1
        prev = length
    return codes


#: ``CODES[sym] == (code, bit length)``.
CODES: tuple[tuple[int, int], ...] = tuple(_canonical())
_DECODE: dict[tuple[int, int], int] = {(length, code): sym for sym, (code, length) in
                                       enumerate(CODES)}


class HuffmanError(ValueError):
    """Invalid Huffman-coded string (EOS inside, bad or over-long padding)."""


def encode(data: bytes) -> bytes:
    """``data`` Huffman-coded, padded with the most significant bits of EOS (all ones)."""
    acc, nbits = 0, 0
    for byte in data:
        code, length = CODES[byte]
        acc = (acc << length) | code
        nbits += length
    pad = -nbits % 8
    acc = (acc << pad) | ((1 << pad) - 1)
    return acc.to_bytes((nbits + pad) // 8, "big")


def decode(data: bytes) -> bytes:
    """Decode a Huffman-coded string; raises :class:`HuffmanError` for invalid input.

    Bit by bit with a (length, code) lookup: slow, but header blocks are decoded once per new
    block (the connection caches decoded blocks), so this never runs per request."""
    out = bytearray()
    code, length = 0, 0
    lookup = _DECODE.get
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            length += 1
            sym = lookup((length, code))
            if sym is None:
                if length > 30:
                    raise HuffmanError("invalid Huffman code")
                continue
            if sym == EOS:
                raise HuffmanError("EOS inside a Huffman-coded string")
            out.append(sym)
            code, length = 0, 0
    # What is left must be a prefix of EOS (all ones) shorter than a byte.
    if length > 7 or code != (1 << length) - 1:
        raise HuffmanError("invalid Huffman padding")
    return bytes(out)
