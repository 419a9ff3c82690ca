"""Requests for the models under tests/models that many client tests send."""

from __future__ import annotations

import numpy as np

from perfanalyzer.client.base import InferRequest, InputTensor

A = np.arange(16, dtype=np.int32).reshape(1, 16)
B = np.full((1, 16), 3, dtype=np.int32)
#: add_sub answers OUTPUT0 = A + B and OUTPUT1 = A - B.
ADD_SUB = InferRequest(model="add_sub", inputs=(InputTensor.from_numpy("INPUT0", A),
                                                InputTensor.from_numpy("INPUT1", B)))
#: One request to the ``delay`` model (it sleeps before answering), with an all-ones input.
DELAY = InferRequest(model="delay", inputs=(InputTensor.from_numpy("INPUT0",
                                                                   np.ones(4, np.float32)),))
