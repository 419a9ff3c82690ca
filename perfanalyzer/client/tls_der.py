"""``--ssl-https-client-certificate-type DER`` / ``--ssl-https-private-key-type DER``.

Python's ssl module loads certificates and keys from PEM files only. A DER file is converted to PEM
in memory and handed to OpenSSL as an anonymous in-memory file (``memfd_create``, opened through
``/proc/self/fd/N``), so the private key is never written to disk. A DER key may be PKCS#8 or a
traditional RSA / EC key: each PEM label is tried in turn.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
from collections.abc import Iterator

from ..errors import OptionError

KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")


def _pem(der: bytes, label: str) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n".encode() + b"\n".join(lines)
            + f"\n-----END {label}-----\n".encode())


@contextlib.contextmanager
def _fd_path(data: bytes) -> Iterator[str]:
    """A readable path holding ``data``, backed by memory only (nothing on disk)."""
    if not hasattr(os, "memfd_create"):
        raise OptionError("TLS: DER certificates/keys need Linux (memfd_create); convert them to "
                          "PEM with openssl")
    fd = os.memfd_create("perfanalyzer-tls", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _read(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise OptionError(f"{flag} {path}: cannot read: {exc.strerror or exc}") from None


def load_cert_chain(ctx: ssl.SSLContext, cert_file: str, key_file: str | None, *,
                    cert_der: bool, key_der: bool) -> None:
    """``ctx.load_cert_chain`` for PEM or DER certificate and key files."""
    if not cert_der and not key_der:
        ctx.load_cert_chain(cert_file, key_file)
        return
    cert = (ssl.DER_cert_to_PEM_cert(_read(cert_file, "--ssl-https-client-certificate-file"))
            .encode() if cert_der else _read(cert_file, "--ssl-https-client-certificate-file"))
    if key_file is None:
        key_variants = [b""]
    elif key_der:
        der = _read(key_file, "--ssl-https-private-key-file")
        key_variants = [_pem(der, label) for label in KEY_LABELS]
    else:
        key_variants = [_read(key_file, "--ssl-https-private-key-file")]
    last: ssl.SSLError | None = None
    for key in key_variants:
        try:
            with _fd_path(cert + (b"\n" + key if key else b"")) as both:
                ctx.load_cert_chain(both)
            return
        except ssl.SSLError as exc:
            last = exc
    assert last is not None
    raise last
