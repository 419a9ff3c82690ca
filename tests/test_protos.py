"""The hand-written protos (protos/*.proto) and the code generated from them.

* the committed code in perfanalyzer/_proto is what scripts/gen_protos.py generates now;
* field numbers match the published KServe v2 / Triton protocol (a table here, and, where the
  server extra is installed, every field, enum value and RPC of tritonclient's own generated code);
* bytes we serialize parse with tritonclient's classes and the other way round.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer._proto import model_config_pb2 as mc
from tests.support.paths import ROOT

GEN = ROOT / "scripts" / "gen_protos.py"
PROTO_OUT = ROOT / "perfanalyzer" / "_proto"

#: Fields added to Triton's protos after 2.51 (the server the tests run); deliberately left out so
#: that the config dict matches that server's HTTP JSON exactly.
NEWER_THAN_251 = {"inference.ModelEnsembling.max_inflight_requests"}

# (message, field, number) from the published protocol; a wrong number silently breaks decoding.
FIELD_NUMBERS = [
    ("ModelInferRequest", "model_name", 1), ("ModelInferRequest", "model_version", 2),
    ("ModelInferRequest", "id", 3), ("ModelInferRequest", "parameters", 4),
    ("ModelInferRequest", "inputs", 5), ("ModelInferRequest", "outputs", 6),
    ("ModelInferRequest", "raw_input_contents", 7),
    ("ModelInferRequest.InferInputTensor", "shape", 3),
    ("ModelInferRequest.InferInputTensor", "contents", 5),
    ("ModelInferRequest.InferRequestedOutputTensor", "parameters", 2),
    ("ModelInferResponse", "outputs", 5), ("ModelInferResponse", "raw_output_contents", 6),
    ("ModelStreamInferResponse", "error_message", 1),
    ("ModelStreamInferResponse", "infer_response", 2),
    ("InferParameter", "bool_param", 1), ("InferParameter", "int64_param", 2),
    ("InferParameter", "string_param", 3), ("InferParameter", "double_param", 4),
    ("InferParameter", "uint64_param", 5),
    ("InferTensorContents", "bytes_contents", 8),
    ("ModelStatistics", "last_inference", 3), ("ModelStatistics", "inference_count", 4),
    ("ModelStatistics", "execution_count", 5), ("ModelStatistics", "inference_stats", 6),
    ("ModelStatistics", "batch_stats", 7), ("ModelStatistics", "memory_usage", 8),
    ("ModelStatistics", "response_stats", 9),
    ("InferStatistics", "queue", 3), ("InferStatistics", "compute_infer", 5),
    ("InferStatistics", "cache_miss", 8),
    ("InferResponseStatistics", "empty_response", 5), ("InferResponseStatistics", "cancel", 6),
    ("InferBatchStatistics", "compute_output", 4),
    ("SystemSharedMemoryRegisterRequest", "offset", 3),
    ("SystemSharedMemoryRegisterRequest", "byte_size", 4),
    ("CudaSharedMemoryRegisterRequest", "raw_handle", 2),
    ("CudaSharedMemoryRegisterRequest", "device_id", 3),
    ("RepositoryModelLoadRequest", "parameters", 3),
    ("ModelRepositoryParameter", "bytes_param", 4),
]
CONFIG_FIELD_NUMBERS = [
    ("ModelConfig", "backend", 17), ("ModelConfig", "runtime", 25),
    ("ModelConfig", "max_batch_size", 4), ("ModelConfig", "input", 5), ("ModelConfig", "output", 6),
    ("ModelConfig", "optimization", 12), ("ModelConfig", "dynamic_batching", 11),
    ("ModelConfig", "sequence_batching", 13), ("ModelConfig", "ensemble_scheduling", 15),
    ("ModelConfig", "instance_group", 7), ("ModelConfig", "parameters", 14),
    ("ModelConfig", "model_warmup", 16), ("ModelConfig", "model_transaction_policy", 19),
    ("ModelConfig", "batch_input", 20), ("ModelConfig", "batch_output", 21),
    ("ModelConfig", "model_repository_agents", 23), ("ModelConfig", "response_cache", 24),
    ("ModelInput", "dims", 4), ("ModelInput", "optional", 8), ("ModelOutput", "reshape", 5),
    ("ModelOutput", "label_filename", 4), ("ModelInstanceGroup", "kind", 4),
    ("ModelInstanceGroup", "count", 2), ("ModelInstanceGroup", "gpus", 3),
    ("ModelSequenceBatching", "max_sequence_idle_microseconds", 1),
    ("ModelSequenceBatching", "control_input", 2), ("ModelSequenceBatching", "oldest", 4),
    ("ModelSequenceBatching.Control", "bool_false_true", 5),
    ("ModelSequenceBatching.Control", "data_type", 4),
    ("ModelEnsembling.Step", "model_version", 2), ("ModelEnsembling.Step", "output_map", 4),
    ("ModelDynamicBatching", "max_queue_delay_microseconds", 2),
    ("ModelDynamicBatching", "priority_queue_policy", 7),
]


def _message(module: ModuleType, dotted: str) -> Any:
    desc = module.DESCRIPTOR.message_types_by_name[dotted.split(".")[0]]
    for part in dotted.split(".")[1:]:
        desc = desc.nested_types_by_name[part]
    return desc


@pytest.mark.parametrize(("message", "field", "number"), FIELD_NUMBERS)
def test_service_field_numbers(message: str, field: str, number: int) -> None:
    assert _message(pb, message).fields_by_name[field].number == number


@pytest.mark.parametrize(("message", "field", "number"), CONFIG_FIELD_NUMBERS)
def test_config_field_numbers(message: str, field: str, number: int) -> None:
    assert _message(mc, message).fields_by_name[field].number == number


def test_enum_values() -> None:
    assert mc.DataType.Value("TYPE_STRING") == 13
    assert mc.DataType.Value("TYPE_BF16") == 14
    assert mc.DataType.Value("TYPE_FP16") == 10
    assert mc.ModelInstanceGroup.Kind.Value("KIND_CPU") == 2
    assert mc.ModelSequenceBatching.Control.Kind.Value("CONTROL_SEQUENCE_CORRID") == 3


def test_service_methods() -> None:
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert service.full_name == "inference.GRPCInferenceService"
    stream = service.methods_by_name["ModelStreamInfer"]
    assert stream.client_streaming and stream.server_streaming
    assert stream.output_type.full_name == "inference.ModelStreamInferResponse"
    for name in ("ServerLive", "ModelInfer", "ModelStatistics", "RepositoryModelUnload",
                 "SystemSharedMemoryRegister", "CudaSharedMemoryStatus"):
        assert not service.methods_by_name[name].client_streaming


def test_private_descriptor_pool() -> None:
    """Our descriptors stay out of protobuf's default pool (tritonclient registers the same
    names there)."""
    from google.protobuf import descriptor_pool

    from perfanalyzer._proto import _pool

    assert pb.DESCRIPTOR.pool is _pool.POOL
    assert pb.DESCRIPTOR.pool is not descriptor_pool.Default()


# -- generated code is fresh ----------------------------------------------------------------------

def _committed_tools_version() -> str:
    text = (PROTO_OUT / "grpc_service_pb2_grpc.py").read_text()
    match = re.search(r"GRPC_GENERATED_VERSION = '([^']+)'", text)
    assert match, "generated gRPC code has no version header"
    return match.group(1)


def test_generated_code_is_fresh() -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools is not installed")
    from importlib.metadata import version

    installed = version("grpcio-tools")
    if installed != _committed_tools_version():
        pytest.skip(f"grpcio-tools {installed} installed; the committed code was generated by "
                    f"{_committed_tools_version()}, so its output is not comparable")
    proc = subprocess.run([sys.executable, str(GEN), "--check"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_generated_imports_are_relative() -> None:
    for path in PROTO_OUT.glob("*_pb2*.py*"):
        text = path.read_text()
        assert not re.search(r"^import \w+_pb2", text, re.MULTILINE), path.name
        assert "_descriptor_pool.Default()" not in text, path.name


# -- against tritonclient's generated code (server extra) -----------------------------------------

def _walk(fd: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def enum(e: Any) -> None:
        for v in e.values:
            out[f"{e.full_name}.{v.name}"] = v.number

    def msg(d: Any) -> None:
        for f in d.fields:
            out[f"{d.full_name}.{f.name}"] = (
                f.number, f.type, f.is_repeated,
                f.message_type.full_name if f.message_type else None,
                f.enum_type.full_name if f.enum_type else None,
                f.containing_oneof.name if f.containing_oneof else None)
        for n in d.nested_types:
            msg(n)
        for e in d.enum_types:
            enum(e)

    for d in fd.message_types_by_name.values():
        msg(d)
    for e in fd.enum_types_by_name.values():
        enum(e)
    for s in fd.services_by_name.values():
        for m in s.methods:
            out[f"{s.full_name}/{m.name}"] = (m.input_type.full_name, m.output_type.full_name,
                                              m.client_streaming, m.server_streaming)
    return out


@pytest.mark.parametrize(("ours", "theirs"), [
    (pb, "tritonclient.grpc.service_pb2"), (mc, "tritonclient.grpc.model_config_pb2")])
def test_matches_tritonclient(ours: ModuleType, theirs: str) -> None:
    other = pytest.importorskip(theirs)
    a, b = _walk(ours.DESCRIPTOR), _walk(other.DESCRIPTOR)
    diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b)
            if a.get(k) != b.get(k) and k not in NEWER_THAN_251}
    assert diff == {}


def test_wire_compatible_with_tritonclient() -> None:
    service = pytest.importorskip("tritonclient.grpc.service_pb2")
    ours = pb.ModelInferRequest(model_name="m", id="7", raw_input_contents=[b"\x01\x02"])
    ours.inputs.add(name="INPUT0", datatype="INT32", shape=[2, -1])
    ours.parameters["sequence_id"].uint64_param = 2**64 - 1
    ours.outputs.add(name="OUT").parameters["classification"].int64_param = 3
    theirs = service.ModelInferRequest.FromString(ours.SerializeToString())
    assert theirs.model_name == "m" and theirs.id == "7"
    assert list(theirs.inputs[0].shape) == [2, -1]
    assert theirs.parameters["sequence_id"].uint64_param == 2**64 - 1
    assert theirs.outputs[0].parameters["classification"].int64_param == 3
    back = pb.ModelInferRequest.FromString(theirs.SerializeToString())
    assert back == ours
