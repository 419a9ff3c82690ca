"""Help text for options declared without one (every option in ``--help`` says what it does).

:func:`perfanalyzer.cli.options.click_option` uses them for table entries declared without help, so
every command built from the table (profile, search) shows them.
"""

from __future__ import annotations

HELP = {
    "protocol": "Protocol: http or grpc.",
    "request_distribution": "Gaps between sends in request-rate mode: constant (1/rate), "
                            "poisson (exponential) or gamma (see --request-burstiness).",
    "measurement_mode": "time_windows: windows of -p ms; count_windows: windows of "
                        "--measurement-request-count requests.",
    "string_length": "Length of generated strings for BYTES inputs.",
    "input_tensor_format": "How HTTP sends input tensors: binary or json.",
    "output_tensor_format": "How HTTP asks for output tensors: binary or json.",
    "shared_memory": "Pass tensors through system or CUDA shared memory instead of the request.",
    "sequence_id_range": "Sequence ids to use (end 0 or omitted: unbounded).",
    "ssl_grpc_use_ssl": "Use TLS for gRPC.",
    "ssl_grpc_root_certifications_file": "gRPC TLS: root certificates (PEM).",
    "ssl_grpc_private_key_file": "gRPC TLS: client private key (PEM).",
    "ssl_grpc_certificate_chain_file": "gRPC TLS: client certificate chain (PEM).",
    "ssl_https_verify_peer": "HTTPS: verify the server's certificate (1) or not (0).",
    "ssl_https_verify_host": "HTTPS: verify the server's host name (2) or not (0; 1 acts as 2).",
    "ssl_https_ca_certificates_file": "HTTPS: CA certificates to verify the server with.",
    "ssl_https_client_certificate_file": "HTTPS: client certificate (see "
                                         "--ssl-https-client-certificate-type).",
    "ssl_https_private_key_file": "HTTPS: client private key (see --ssl-https-private-key-type).",
    "grpc_compression_algorithm": "Compress gRPC requests: none, gzip or deflate.",
    "verbose_csv": "Add perf_analyzer's verbose columns to -f's CSV (Avg latency, "
                   "request/response, response wait; GPU columns with --collect-metrics).",
}
