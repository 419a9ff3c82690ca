"""The private descriptor pool the generated ``*_pb2`` modules register their files in.

Keeping these descriptors out of protobuf's default pool lets this package share a process with
``tritonclient``, whose generated code registers the same ``inference.*`` names there.
"""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
