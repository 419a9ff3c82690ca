"""Python-backend stand-ins for the models and data of Triton's QA script for perf_analyzer
(qa/L0_perf_analyzer/test.sh), written into a fresh folder by :func:`write_repository` and
:func:`write_data`. Same names, tensors, shapes, batching, sequence and decoupled settings as the
QA models; the computations are what the QA data files expect (OUTPUT0 = INPUT0 - INPUT1,
OUTPUT1 = INPUT0 + INPUT1; the sequence model answers INPUT + START).

Used by scripts/qa_perf_analyzer_cases.py only.
"""

from __future__ import annotations

import json
from pathlib import Path

MODEL_PY = '''
import json
import time

import numpy as np
import triton_python_backend_utils as pb


def _numbers(tensor):
    a = tensor.as_numpy()
    if a.dtype == np.object_:
        # an empty string: a slot the direct sequence batcher pads a batch with
        return np.array([int((x.decode() if isinstance(x, bytes) else x) or 0) for x in a.ravel()],
                        dtype=np.int64).reshape(a.shape)
    return a.astype(np.int64) if a.dtype.kind in "iu" else a


def _as(values, dtype):
    if dtype == np.object_:
        return np.array([str(int(v)).encode() for v in np.ravel(values)],
                        dtype=np.object_).reshape(np.shape(values))
    return np.asarray(values).astype(dtype)


class TritonPythonModel:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])
        self.kind = cfg["parameters"]["kind"]["string_value"]
        self.outs = [(o["name"], pb.triton_string_to_numpy(o["data_type"]))
                     for o in cfg["output"]]
        self.batching = cfg.get("max_batch_size", 0) > 0

    def execute(self, requests):
        return [self._one(r) for r in requests]

    def _one(self, request):
        get = lambda name: pb.get_input_tensor_by_name(request, name)
        if self.kind in ("addsub", "optional"):
            a, b = get("INPUT0"), get("INPUT1")
            a = _numbers(a) if a is not None else None
            b = _numbers(b) if b is not None else None
            a = a if a is not None else np.zeros_like(b)
            b = b if b is not None else np.zeros_like(a)
            vals = [a - b, a + b]
        elif self.kind == "seq":
            start = get("START").as_numpy().reshape(-1)
            x = _numbers(get("INPUT"))
            vals = [x + start.reshape((-1,) + (1,) * (x.ndim - 1))]
        elif self.kind == "seqf":
            start = get("START").as_numpy().reshape(-1)
            x = get("INPUT").as_numpy()
            lead = x.shape[0] if self.batching else 1
            total = x.reshape(lead, -1).sum(axis=1) + start[:lead]
            vals = [total.reshape((lead, 1)) if self.batching else total.reshape(1)]
        else:  # zeros: the classification stand-in
            lead = get("input").as_numpy().shape[0]
            vals = [np.zeros((lead, 1001))]
        return pb.InferenceResponse([pb.Tensor(name, _as(v, dtype))
                                     for (name, dtype), v in zip(self.outs, vals)])
'''

REPEAT_PY = '''
import time

import numpy as np
import triton_python_backend_utils as pb


class TritonPythonModel:
    """python_backend's decoupled repeat example: one response per element of IN, each after
    DELAY[i] ms, then WAIT ms, then the final flag."""

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            values = pb.get_input_tensor_by_name(request, "IN").as_numpy().reshape(-1)
            delay = pb.get_input_tensor_by_name(request, "DELAY").as_numpy().reshape(-1)
            wait = pb.get_input_tensor_by_name(request, "WAIT").as_numpy().reshape(-1)
            for i, v in enumerate(values):
                time.sleep(float(delay[i]) / 1000 if i < len(delay) else 0)
                sender.send(pb.InferenceResponse([
                    pb.Tensor("OUT", np.array([v], dtype=np.int32)),
                    pb.Tensor("IDX", np.array([i], dtype=np.uint32))]))
            time.sleep(float(wait[0]) / 1000 if len(wait) else 0)
            sender.send(flags=pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None
'''


def _io(kind: str, name: str, dtype: str, dims: str, optional: bool = False) -> str:
    extra = " optional: true" if optional else ""
    return f'{kind} [ {{ name: "{name}" data_type: {dtype} dims: [ {dims} ]{extra} }} ]'


def _two(kind: str, dtype: str, dims: str, optional: bool = False) -> str:
    return "\n".join(_io(kind, f"{'INPUT' if kind == 'input' else 'OUTPUT'}{i}", dtype, dims,
                         optional) for i in (0, 1))


SEQUENCE = """sequence_batching {
  max_sequence_idle_microseconds: 5000000
  direct { }
  control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START
                                              int32_false_true: [ 0, 1 ] } ] } ]
}"""


def _config(name: str, body: str, kind: str, batch: int) -> str:
    return (f'name: "{name}"\nbackend: "python"\nmax_batch_size: {batch}\n{body}\n'
            f'parameters [ {{ key: "kind" value: {{ string_value: "{kind}" }} }} ]\n'
            "instance_group [ { kind: KIND_CPU count: 1 } ]\n")


def _addsub(name: str, in_type: str, out_type: str, dims: str, batch: int) -> tuple[str, str]:
    """An add/sub stand-in: two inputs and two outputs of these types and dims."""
    return (_config(name, _two("input", in_type, dims) + "\n" + _two("output", out_type, dims),
                    "addsub", batch), MODEL_PY)


#: the add/sub stand-ins: name, input type, output type, dims, max batch size
_ADDSUB = [
    ("graphdef_int32_int32_int32", "TYPE_INT32", "TYPE_INT32", "16", 8),
    ("graphdef_nobatch_int32_int32_int32", "TYPE_INT32", "TYPE_INT32", "16", 0),
    ("graphdef_object_object_object", "TYPE_STRING", "TYPE_STRING", "16", 8),
    ("graphdef_nobatch_object_object_object", "TYPE_STRING", "TYPE_STRING", "16", 0),
    ("graphdef_object_int32_int32", "TYPE_STRING", "TYPE_INT32", "-1, -1", 8),
    ("graphdef_int32_int32_float32", "TYPE_INT32", "TYPE_FP32", "-1, -1, -1", 8),
]


#: name -> (config.pbtxt, model.py)
MODELS: dict[str, tuple[str, str]] = {
    **{name: _addsub(name, *rest) for name, *rest in _ADDSUB},
    "savedmodel_sequence_object": (_config(
        "savedmodel_sequence_object", _io("input", "INPUT", "TYPE_STRING", "1") + "\n"
        + _io("output", "OUTPUT", "TYPE_STRING", "1") + "\n" + SEQUENCE, "seq", 8), MODEL_PY),
    "graphdef_sequence_float32": (_config(
        "graphdef_sequence_float32", _io("input", "INPUT", "TYPE_FP32", "-1") + "\n"
        + _io("output", "OUTPUT", "TYPE_FP32", "1") + "\n" + SEQUENCE, "seqf", 8), MODEL_PY),
    "optional": (_config(
        "optional", _two("input", "TYPE_INT32", "1", optional=True) + "\n"
        + _two("output", "TYPE_INT32", "1"), "optional", 2), MODEL_PY),
    "inception_v1_graphdef": (_config(
        "inception_v1_graphdef", _io("input", "input", "TYPE_FP32", "224, 224, 3") + "\n"
        + _io("output", "InceptionV1/Logits/Predictions/Softmax", "TYPE_FP32", "1001"),
        "zeros", 128), MODEL_PY),
    "repeat_int32": (
        'name: "repeat_int32"\nbackend: "python"\nmax_batch_size: 0\n'
        "model_transaction_policy { decoupled: true }\n"
        + _io("input", "IN", "TYPE_INT32", "-1") + "\n" + _io("input", "DELAY", "TYPE_UINT32", "-1")
        + "\n" + _io("input", "WAIT", "TYPE_UINT32", "1") + "\n"
        + _io("output", "OUT", "TYPE_INT32", "1") + "\n" + _io("output", "IDX", "TYPE_UINT32", "1")
        + "\ninstance_group [ { kind: KIND_CPU count: 1 } ]\n", REPEAT_PY),
}

ENSEMBLE = """name: "simple_savedmodel_sequence_object"
platform: "ensemble"
max_batch_size: 8
input [ { name: "INPUT" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "OUTPUT" data_type: TYPE_STRING dims: [ 1 ] } ]
ensemble_scheduling { step [ {
  model_name: "savedmodel_sequence_object" model_version: -1
  input_map { key: "INPUT" value: "INPUT" } output_map { key: "OUTPUT" value: "OUTPUT" } } ] }
"""


def write_repository(root: Path) -> Path:
    for name, (config, code) in MODELS.items():
        (root / name / "1").mkdir(parents=True)
        (root / name / "config.pbtxt").write_text(config)
        (root / name / "1" / "model.py").write_text(code)
    (root / "simple_savedmodel_sequence_object" / "1").mkdir(parents=True)
    (root / "simple_savedmodel_sequence_object" / "config.pbtxt").write_text(ENSEMBLE)
    return root


def _ints(first: int) -> list[int]:
    return [first] + [1] * 15


def _steps() -> list[dict[str, list[int]]]:
    return [{"INPUT0": _ints(k), "INPUT1": [1] * 16} for k in range(1, 5)]


def _expected(k: int) -> dict[str, list[int]]:
    a, b = _ints(k), [1] * 16
    return {"OUTPUT0": [x - y for x, y in zip(a, b, strict=True)],
            "OUTPUT1": [x + y for x, y in zip(a, b, strict=True)]}


def write_data(root: Path) -> dict[str, Path]:
    """The QA script's data files (generated with the contents its checks rely on) and its
    test_data folder; name -> path."""
    root.mkdir(parents=True, exist_ok=True)
    steps = _steps()
    wrong = [_expected(k) for k in range(1, 5)]
    wrong[2]["OUTPUT0"] = wrong[2]["OUTPUT0"][:10]  # too few values: "mismatch in the data"
    wrong2 = [_expected(k) for k in range(1, 5)]
    wrong2[2]["OUTPUT0"] = [1] * 16  # the right size, other values
    seq = [[{"INPUT": [str(v)]} for v in (1, 2, 3, 4)]]
    shaped = [[2, 8, 2], [1, 8, 4], [2, 8, 2], [2, 8, 2]]
    files = {
        "int_data.json": {"data": steps},
        "int_data_diff_shape.json": {"data": [
            {n: {"content": [k] + [1] * 31, "shape": s} for n in ("INPUT0", "INPUT1")}
            for k, s in enumerate(shaped, start=1)]},
        "int_data_optional.json": {"data": [{"INPUT0": [1]}, {"INPUT1": [1]}]},
        "string_data.json": {"data": [{n: [str(v) for v in _ints(k)] for n in ("INPUT0", "INPUT1")}
                                      for k in range(1, 5)]},
        "string_data_with_shape.json": {"data": [
            {n: ({"content": ["1"] * 16, "shape": [2, 8]} if k in (0, 3) else
                 {"content": ["1"] * 16}) for n in ("INPUT0", "INPUT1")} for k in range(4)]},
        "seq_data.json": {"data": [[{"INPUT": [str(v)]} for v in (1, 2, 3, 4, 5)],
                                   [{"INPUT": [str(v)]} for v in (6, 7, 8)]]},
        "float_data_with_shape.json": {"data": [[
            {"INPUT": {"content": [float(i) for i in range(n)], "shape": [n]}}
            for n in (2, 1, 2)]]},
        "output.json": {"data": steps, "validation_data": [_expected(k) for k in range(1, 5)]},
        "non_aligned_output.json": {"data": steps, "validation_data": [_expected(1)]},
        "wrong_output.json": {"data": steps, "validation_data": wrong},
        "wrong_output_2.json": {"data": steps, "validation_data": wrong2},
        "seq_output.json": {"data": seq, "validation_data": [[{"OUTPUT": [v]} for v in
                                                               ("2", "2", "3", "4")]]},
        "seq_wrong_output.json": {"data": seq, "validation_data": [[{"OUTPUT": ["0"]}] * 4]},
        "repeat_int32_data.json": {"data": [{"IN": {"content": [4, 2, 0, 1], "shape": [4]},
                                             "DELAY": {"content": [1, 2, 3, 4], "shape": [4]},
                                             "WAIT": [5]}]},
    }
    out = {}
    for name, content in files.items():
        (root / name).write_text(json.dumps(content))
        out[name] = root / name
    testdata = root / "test_data"
    testdata.mkdir(exist_ok=True)
    for name in ("INPUT0", "INPUT1"):
        (testdata / name).write_text("1\n" * 16)
    # the QA script writes it into test_data only after the cases that read that folder (a file
    # there that is not a model input is an error for both tools); beside it here
    (root / "custom.schedule").write_text("30000\n10000\n40000\n20000\n25000\n")
    out["test_data"] = testdata
    out["custom.schedule"] = root / "custom.schedule"
    return out
