"""Running sum per sequence, keyed by the correlation id Triton passes in CORRID.

State idle for longer than max_sequence_idle_microseconds is dropped, as Triton drops the sequence
itself then, so an abandoned sequence never blocks its id.
"""

import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


def _scalar(request, name):
    return int(pb_utils.get_input_tensor_by_name(request, name).as_numpy().reshape(-1)[0])


def _error(message):
    err = pb_utils.TritonError(message, pb_utils.TritonError.INVALID_ARG)
    return pb_utils.InferenceResponse(output_tensors=[], error=err)


class TritonPythonModel:
    def initialize(self, args):
        cfg = json.loads(args["model_config"])["sequence_batching"]
        self.idle_s = int(cfg.get("max_sequence_idle_microseconds", 1000000)) / 1e6
        self.live = {}  # correlation id -> [sum, last seen (monotonic s)]

    def execute(self, requests):
        now = time.monotonic()
        for cid in [c for c, st in self.live.items() if now - st[1] > self.idle_s]:
            del self.live[cid]
        return [self._step(request, now) for request in requests]

    def _step(self, request, now):
        start, end, cid = (_scalar(request, n) for n in ("START", "END", "CORRID"))
        if start and cid in self.live:
            return _error(f"sequence {cid}: START for a sequence that is still live")
        if not start and cid not in self.live:
            return _error(f"sequence {cid}: request without START for an unknown sequence")
        st = self.live.setdefault(cid, [0, now]) if start else self.live[cid]
        x = pb_utils.get_input_tensor_by_name(request, "INPUT").as_numpy()
        st[0] += int(x.astype(np.int64).sum())
        st[1] = now
        if end:
            del self.live[cid]
        out = np.full(x.shape, st[0], dtype=np.int32)
        return pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT", out)])
