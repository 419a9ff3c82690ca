import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            inputs = [pb_utils.Tensor(name, np.expand_dims(
                pb_utils.get_input_tensor_by_name(request, name).as_numpy(), 0))
                for name in ("INPUT0", "INPUT1")]
            call = pb_utils.InferenceRequest(model_name="add_sub",
                                             requested_output_names=["OUTPUT0", "OUTPUT1"],
                                             inputs=inputs)
            result = call.exec()
            if result.has_error():
                raise pb_utils.TritonModelException(result.error().message())
            outputs = [pb_utils.Tensor(name, pb_utils.get_output_tensor_by_name(
                result, name).as_numpy()[0]) for name in ("OUTPUT0", "OUTPUT1")]
            responses.append(pb_utils.InferenceResponse(outputs))
        return responses
