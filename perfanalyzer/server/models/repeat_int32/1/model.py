"""Decoupled: one response per element of IN (optionally delay_ms apart), then the final flag.

With a delay each request is answered from its own thread, so requests stream concurrently (as an
LLM server with in-flight batching does); without one, in order, from execute. The request
parameter fail_at (int) makes response fail_at an error response, the last. With first_ms the
first response is due first_ms after execute saw the request and response i at
first_ms + i * delay_ms: paced against deadlines, so a late wake-up does not shift the later ones
(ground truth for time to first response and inter-response time)."""

import json
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"]).get("parameters", {})
        self.delay_s = float(params.get("delay_ms", {}).get("string_value", "0")) / 1000.0
        first = params.get("first_ms", {}).get("string_value")
        self.first_s = float(first) / 1000.0 if first is not None else None
        self.threads = set()
        self.lock = threading.Lock()

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            values = pb_utils.get_input_tensor_by_name(request, "IN").as_numpy().reshape(-1)
            fail_at = json.loads(request.parameters() or "{}").get("fail_at")
            if self.delay_s <= 0 and self.first_s is None:
                self.respond(sender, values, fail_at=fail_at)
                continue
            thread = threading.Thread(target=self.respond,
                                      args=(sender, values, time.monotonic(), fail_at),
                                      daemon=True)
            with self.lock:
                self.threads.add(thread)
            thread.start()
        return None

    def respond(self, sender, values, t0=0.0, fail_at=None):
        try:
            for i, v in enumerate(values):
                if i == fail_at:  # the request parameter fail_at: an error response at i
                    sender.send(pb_utils.InferenceResponse(
                        error=pb_utils.TritonError(f"asked to fail at response {i}")),
                        flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
                    return
                if self.first_s is not None:
                    time.sleep(max(0.0, t0 + self.first_s + i * self.delay_s - time.monotonic()))
                    if sender.is_cancelled():
                        break
                elif self.delay_s > 0:
                    time.sleep(self.delay_s)
                    if sender.is_cancelled():  # the client gave up (closed its stream)
                        break
                sender.send(pb_utils.InferenceResponse([
                    pb_utils.Tensor("OUT", np.array([v], dtype=np.int32)),
                    pb_utils.Tensor("IDX", np.array([i], dtype=np.uint32)),
                ]))
            sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        except pb_utils.TritonModelException:  # the stream is gone: nobody to answer
            pass
        finally:
            with self.lock:
                self.threads.discard(threading.current_thread())

    def finalize(self):
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout=5.0)
