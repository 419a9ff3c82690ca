"""String add/sub: elements are decimal integers; a non-integer element is an INVALID_ARG error."""

import numpy as np
import triton_python_backend_utils as pb_utils


def _ints(tensor):
    arr = tensor.as_numpy()
    flat = [int(x.decode() if isinstance(x, bytes) else x) for x in arr.reshape(-1)]
    return np.array(flat, dtype=np.int64).reshape(arr.shape)


def _strings(values):
    flat = [str(int(v)).encode() for v in values.reshape(-1)]
    return np.array(flat, dtype=np.object_).reshape(values.shape)


class TritonPythonModel:
    def execute(self, requests):
        return [self._one(request) for request in requests]

    def _one(self, request):
        try:
            a = _ints(pb_utils.get_input_tensor_by_name(request, "INPUT0"))
            b = _ints(pb_utils.get_input_tensor_by_name(request, "INPUT1"))
        except (ValueError, UnicodeDecodeError) as exc:
            err = pb_utils.TritonError(f"simple_string: elements must be decimal integers ({exc})",
                                       pb_utils.TritonError.INVALID_ARG)
            return pb_utils.InferenceResponse(output_tensors=[], error=err)
        return pb_utils.InferenceResponse([
            pb_utils.Tensor("OUTPUT0", _strings(a + b)),
            pb_utils.Tensor("OUTPUT1", _strings(a - b)),
        ])
