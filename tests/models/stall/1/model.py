import json
import time

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        params = json.loads(args["model_config"]).get("parameters", {})
        self.stall_after = int(params.get("stall_after", {}).get("string_value", "60"))
        self.stall_s = float(params.get("stall_ms", {}).get("string_value", "1000")) / 1000.0
        self.seen = 0

    def execute(self, requests):
        responses = []
        for request in requests:
            self.seen += 1
            if self.seen == self.stall_after:
                time.sleep(self.stall_s)
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", x)]))
        return responses
