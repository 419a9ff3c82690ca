"""ResNet-50 v1.5 on onnxruntime (CPU). Requests of one dynamic batch run as one ORT call."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils


def _builder():
    """The builder module next to this repository (perfanalyzer/server/resnet50.py), loaded by
    path so that model and builder always match; the installed one for a copied repository."""
    path = Path(__file__).resolve().parents[3] / "resnet50.py"
    if not path.is_file():
        from perfanalyzer.server import resnet50

        return resnet50
    spec = importlib.util.spec_from_file_location("_perfanalyzer_resnet50", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the ResNet-50 builder from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TritonPythonModel:
    def initialize(self, args):
        import onnxruntime as ort

        params = json.loads(args["model_config"]).get("parameters", {})
        threads = int(params.get("intra_op_threads", {}).get("string_value", "2"))
        path = _builder().ensure_model()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        batches = [pb_utils.get_input_tensor_by_name(r, "input").as_numpy() for r in requests]
        x = np.ascontiguousarray(np.concatenate(batches, axis=0), dtype=np.float32)
        y = self.session.run(["output"], {"input": x})[0]
        responses = []
        offset = 0
        for b in batches:
            n = b.shape[0]
            responses.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("output", np.ascontiguousarray(y[offset:offset + n]))]))
            offset += n
        return responses
