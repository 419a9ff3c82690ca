"""A real ResNet-50 v1.5 graph in ONNX, built locally from seeded random weights (never downloaded).

The architecture is torchvision's ``resnet50``: a 7×7/2 stem, 3×3/2 max-pool, bottleneck stages of
[3, 4, 6, 3] blocks (widths 64..512, expansion 4) with the stride on the 3×3 convolution (v1.5),
global average pooling and a 2048→1000 fully connected layer. Batch normalisation is folded into the
convolutions (a bias per output channel), so the graph holds 25,530,472 parameters: torchvision's
25,557,032 minus one of the two per-channel BN parameters (26,560 BN channels). It costs
4,089,184,256 multiply-accumulates per 224×224 image, like the original (4.09 "GFLOPS").

Weights are He-initialised from ``numpy.random.default_rng(seed)``; the last convolution of every
residual branch is scaled down so that activations stay finite through 16 residual additions. The
output is deterministic for a given seed and ``BUILDER_VERSION``; the cache file name is keyed by a
hash of both, so a changed builder never reuses a stale file.

    python -c 'from perfanalyzer.server.resnet50 import build; build("resnet50.onnx")'
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

BUILDER_VERSION = "1"
DEFAULT_SEED = 20240611
OPSET = 17
IMAGE_SHAPE = (3, 224, 224)
NUM_CLASSES = 1000
STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # (bottleneck width, blocks)
EXPANSION = 4
RESIDUAL_SCALE = 0.2  # multiplies the He init of each branch's last conv
CACHE_ENV = "PERFANALYZER_CACHE"
INPUT_NAME = "input"
OUTPUT_NAME = "output"


def cache_dir() -> Path:
    """``$PERFANALYZER_CACHE`` if set, else ``~/.cache/perfanalyzer``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "perfanalyzer"


def cache_key(seed: int = DEFAULT_SEED) -> str:
    text = f"resnet50-v1.5:{BUILDER_VERSION}:{seed}:{OPSET}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_path(directory: Path | None = None, seed: int = DEFAULT_SEED) -> Path:
    """Where ``ensure_model`` keeps the ONNX file."""
    return (directory or cache_dir()) / f"resnet50-v1.5-{cache_key(seed)}.onnx"


def ensure_model(directory: Path | None = None, seed: int = DEFAULT_SEED) -> Path:
    """The cached ONNX file, built first if it is not there yet. Safe when several processes race:
    each writes its own temporary file and renames it into place."""
    path = cached_path(directory, seed)
    if not path.is_file():
        build(path, seed=seed)
    return path


def build(path: str | os.PathLike[str], *, seed: int = DEFAULT_SEED) -> Path:
    """Write the ONNX model to ``path`` atomically (temporary file in the same folder, then
    rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = make_model(seed).SerializeToString()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _GraphBuilder:
    """Accumulates nodes and initializers; names are generated from a counter."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def _name(self, kind: str) -> str:
        self._n += 1
        return f"{kind}_{self._n}"

    def _init(self, name: str, arr: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, *,
             scale: float = 1.0, relu: bool = True) -> str:
        from onnx import helper

        fan_in = cin * k * k
        w = self.rng.standard_normal((cout, cin, k, k), dtype=np.float32)
        w *= np.float32(scale * np.sqrt(2.0 / fan_in))
        b = (0.01 * self.rng.standard_normal(cout)).astype(np.float32)  # the folded BN shift
        name = self._name("conv")
        pad = k // 2
        self.nodes.append(helper.make_node(
            "Conv", [x, self._init(f"{name}.weight", w), self._init(f"{name}.bias", b)],
            [name], name=name, kernel_shape=[k, k], strides=[stride, stride],
            pads=[pad, pad, pad, pad]))
        return self.relu(name) if relu else name

    def relu(self, x: str) -> str:
        return self.op("Relu", [x])

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        name = self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def bottleneck(self, x: str, cin: int, width: int, stride: int) -> str:
        cout = width * EXPANSION
        y = self.conv(x, cin, width, 1)
        y = self.conv(y, width, width, 3, stride)  # v1.5: the stride is on the 3×3 conv
        y = self.conv(y, width, cout, 1, scale=RESIDUAL_SCALE, relu=False)
        shortcut = x
        if stride != 1 or cin != cout:
            shortcut = self.conv(x, cin, cout, 1, stride, relu=False)
        return self.relu(self.op("Add", [y, shortcut]))


def make_model(seed: int = DEFAULT_SEED) -> Any:
    """The ``onnx.ModelProto`` (input ``input`` [N,3,224,224] FP32, output ``output`` [N,1000])."""
    from onnx import TensorProto, helper

    g = _GraphBuilder(seed)
    x = g.conv(INPUT_NAME, IMAGE_SHAPE[0], 64, 7, 2)
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for i, (width, blocks) in enumerate(STAGES):
        for j in range(blocks):
            x = g.bottleneck(x, cin, width, 2 if (j == 0 and i > 0) else 1)
            cin = width * EXPANSION
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    fc_w = g.rng.standard_normal((NUM_CLASSES, cin), dtype=np.float32)
    fc_w *= np.float32(np.sqrt(1.0 / cin))
    fc_b = np.zeros(NUM_CLASSES, dtype=np.float32)
    g.nodes.append(helper.make_node(
        "Gemm", [x, g._init("fc.weight", fc_w), g._init("fc.bias", fc_b)], [OUTPUT_NAME],
        name="fc", transB=1))
    graph = helper.make_graph(
        g.nodes, "resnet50_v1_5",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", *IMAGE_SHAPE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="perfanalyzer.server.resnet50",
                              producer_version=BUILDER_VERSION)
    model.ir_version = 8
    return model


def count_parameters(model: Any) -> int:
    """Number of weight elements (all initializers) in an ``onnx.ModelProto``."""
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer)


def _shapes(model: Any) -> dict[str, list[int]]:
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        shapes[vi.name] = [d.dim_value or 1 for d in vi.type.tensor_type.shape.dim]
    return shapes


def _conv_and_gemm(model: Any) -> Iterator[tuple[Any, dict[str, list[int]]]]:
    dims = {t.name: list(t.dims) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm"):
            yield node, dims


def count_macs(model: Any) -> int:
    """Multiply-accumulates of the convolutions and the FC layer for one image (batch 1)."""
    shapes = _shapes(model)
    macs = 0
    for node, dims in _conv_and_gemm(model):
        w = dims[node.input[1]]
        if node.op_type == "Conv":
            out = shapes[node.output[0]]  # [N, Cout, H, W]
            macs += out[2] * out[3] * int(np.prod(w))
        else:
            macs += int(np.prod(w))
    return macs


def main(argv: list[str] | None = None) -> int:
    """``python -m perfanalyzer.server.resnet50 [PATH]``: build (default: into the cache)."""
    args = sys.argv[1:] if argv is None else argv
    t0 = time.perf_counter()
    path = build(args[0]) if args else ensure_model()
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
