"""The client's options for a run, from the run's configuration (transport group)."""

from __future__ import annotations

from ..config import RunConfig
from .base import ClientOptions, TlsOptions

CONNECT_TIMEOUT_S = 10.0  # the default of --connect-timeout


def client_options(cfg: RunConfig) -> ClientOptions:
    t, url = cfg.transport, cfg.server.server_url
    if cfg.server.protocol == "grpc":
        tls = TlsOptions(enabled=t.ssl_grpc_use_ssl, ca_file=t.ssl_grpc_root_certifications_file,
                         cert_file=t.ssl_grpc_certificate_chain_file,
                         key_file=t.ssl_grpc_private_key_file)
        compression = t.grpc_compression_algorithm
    else:
        tls = TlsOptions(enabled=url.startswith("https://") or bool(
                             t.ssl_https_ca_certificates_file or t.ssl_https_client_certificate_file),
                         ca_file=t.ssl_https_ca_certificates_file,
                         cert_file=t.ssl_https_client_certificate_file,
                         key_file=t.ssl_https_private_key_file,
                         verify_peer=bool(t.ssl_https_verify_peer),
                         verify_host=t.ssl_https_verify_host != 0,
                         cert_der=t.ssl_https_client_certificate_type == "der",
                         key_der=t.ssl_https_private_key_type == "der")
        compression = t.http_compression
    return ClientOptions(url=url, headers=dict(t.headers), tls=tls,
                         compression=compression,
                         response_compression=t.http_response_compression,
                         connect_timeout_s=t.connect_timeout_s,
                         request_timeout_s=t.request_timeout_s,
                         binary_tensors=cfg.inputs.input_tensor_format == "binary",
                         grpc_transport=t.grpc_transport,
                         keepalive_time_ms=t.grpc_keepalive_time_ms,
                         keepalive_timeout_ms=t.grpc_keepalive_timeout_ms,
                         channel_args=t.grpc_channel_args, endpoint=t.endpoint,
                         orca_format=t.orca_format or "")


__all__ = ["CONNECT_TIMEOUT_S", "client_options"]
