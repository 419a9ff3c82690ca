"""Generated protobuf / gRPC code for the KServe v2 + Triton protocol (``protos/``).

Never edit the ``*_pb2*`` files by hand: run ``python scripts/gen_protos.py``.
"""
