"""Running sum per sequence, keyed by the correlation id Triton passes in CORRID.

State of a sequence that stays idle longer than max_sequence_idle_microseconds is dropped, as Triton
drops the sequence itself then; so an abandoned sequence never blocks its id forever.
"""

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


def _flag(request, name):
    return int(pb_utils.get_input_tensor_by_name(request, name).as_numpy().reshape(-1)[0])


class TritonPythonModel:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])["sequence_batching"]
        self.idle_s = int(cfg.get("max_sequence_idle_microseconds", 1000000)) / 1e6
        self.live = {}  # correlation id -> [sum, count, last seen (monotonic s)]

    def execute(self, requests):
        now = time.monotonic()
        for cid in [c for c, st in self.live.items() if now - st[2] > self.idle_s]:
            del self.live[cid]
        return [self._step(request, now) for request in requests]

    def _step(self, request, now):
        start, end = _flag(request, "START"), _flag(request, "END")
        cid = _flag(request, "CORRID")
        if start and cid in self.live:
            return _error(f"sequence {cid}: START for a sequence that is still live")
        if not start and cid not in self.live:
            return _error(f"sequence {cid}: request without START for an unknown sequence")
        st = self.live.setdefault(cid, [0, 0, now]) if start else self.live[cid]
        x = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
        st[0] += int(x.astype(np.int64).sum())
        st[1] += 1
        st[2] = now
        if end:
            del self.live[cid]
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("OUTPUT", np.array([st[0]], dtype=np.int32)),
            pb_utils.Tensor("COUNT", np.array([st[1]], dtype=np.int32)),
        ])


def _error(message):
    err = pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG)
    return pb_utils.InferenceResponse(output_tensors=[], error=err)
