"""Echo every optional input INPUT_<DT> as OUTPUT_<DT>.

BF16 has no numpy type, so it is passed through with DLPack; every other datatype goes through numpy
(BYTES cannot be expressed in DLPack).
"""

import triton_python_backend_utils as pb_utils

DATATYPES = ("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BF16", "BYTES")


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            outputs = []
            for dt in DATATYPES:
                t = pb_utils.get_input_tensor_by_name(request, f"INPUT_{dt}")
                if t is None:
                    continue
                if dt == "BF16":
                    out = pb_utils.Tensor.from_dlpack(f"OUTPUT_{dt}", t.to_dlpack())
                else:
                    out = pb_utils.Tensor(f"OUTPUT_{dt}", t.as_numpy())
                outputs.append(out)
            responses.append(pb_utils.InferenceResponse(outputs))
        return responses
