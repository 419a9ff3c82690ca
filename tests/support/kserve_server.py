"""A minimal KServe v2 REST server *without* Triton's extensions (no statistics, no model config, no
binary tensors), like KServe's Python server or Seldon MLServer. Real Triton cannot act as such a
server, so this stands in for one. Run: ``python tests/support/kserve_server.py PORT``
(``SCRIPT`` is this file's path for that), or ``serving(port)``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

SCRIPT = Path(__file__)

MODEL = {"name": "echo", "versions": ["1"], "platform": "mini",
         "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [4]}],
         "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [4]}]}
#: KServe's batch convention: a leading -1 (batch) dimension; echo_dyn also has a dynamic one.
MODELS = {"echo": MODEL,
          "echo_batch": {**MODEL, "name": "echo_batch",
                         "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, 4]}],
                         "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, 4]}]},
          "echo_dyn": {**MODEL, "name": "echo_dyn",
                       "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, -1]}],
                       "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, -1]}]}}
#: Shapes of the requests each model received (the test reads them back over GET /shapes).
SHAPES: dict[str, list[list[int]]] = {}


async def ok(_: web.Request) -> web.Response:
    return web.json_response({})


async def server_meta(_: web.Request) -> web.Response:
    return web.json_response({"name": "mini", "version": "0", "extensions": []})


async def model_meta(req: web.Request) -> web.Response:
    model = MODELS.get(req.match_info["model"])
    if model is None:
        return web.json_response({"error": "model not found"}, status=404)
    return web.json_response(model)


async def not_found(_: web.Request) -> web.Response:
    return web.json_response({"error": "not supported"}, status=404)


#: With a second argument N, every Nth inference but one in N answers 500 (a failing server);
#: with "hang", inferences are never answered (a server that went silent).
FAIL_EVERY = [0]
HANG = [False]
_COUNT = [0]


async def infer(req: web.Request) -> web.Response:
    body = await req.json()
    _COUNT[0] += 1
    if HANG[0]:
        await asyncio.Event().wait()
    if FAIL_EVERY[0] and _COUNT[0] % FAIL_EVERY[0] != 0:
        return web.json_response({"error": "injected failure"}, status=500)
    inp = body["inputs"][0]
    seen = SHAPES.setdefault(req.match_info["model"], [])
    if len(seen) < 100:
        seen.append(list(inp["shape"]))
    return web.json_response({"model_name": req.match_info["model"], "model_version": "1",
                              "id": body.get("id", ""),
                              "outputs": [{"name": "OUTPUT0", "datatype": "FP32",
                                           "shape": inp["shape"], "data": inp["data"]}]},
                             headers=orca_report(req, _COUNT[0]))


def orca_report(req: web.Request, n: int) -> dict[str, str]:
    """An ORCA load report when the request asks for one (as Triton's TensorRT-LLM backend
    answers): cpu_utilization 0.25 always, named_metrics.kv_cache_utilization 0.2 on odd
    requests and 0.6 on even ones, no report at all on every fifth."""
    kind = req.headers.get("endpoint-load-metrics-format", "").lower()
    if kind not in ("text", "json") or n % 5 == 0:
        return {}
    kv = 0.2 if n % 2 else 0.6
    if kind == "text":
        value = f"TEXT cpu_utilization=0.25, named_metrics.kv_cache_utilization={kv}"
    else:
        value = "JSON " + json.dumps({"cpu_utilization": 0.25,
                                      "named_metrics": {"kv_cache_utilization": kv}})
    return {"endpoint-load-metrics": value}


async def shapes(_: web.Request) -> web.Response:
    return web.json_response(SHAPES)


def app() -> web.Application:
    a = web.Application()
    a.add_routes([web.get("/v2/health/live", ok), web.get("/v2/health/ready", ok),
                  web.get("/v2", server_meta), web.get("/v2/models/{model}", model_meta),
                  web.get("/v2/models/{model}/ready", ok),
                  web.get("/v2/models/{model}/config", not_found),
                  web.get("/v2/models/{model}/stats", not_found),
                  web.get("/v2/models/stats", not_found),
                  web.post("/v2/repository/index", not_found),
                  web.post("/v2/models/{model}/infer", infer),
                  web.get("/shapes", shapes)])
    return a


@contextlib.contextmanager
def serving(port: int) -> Iterator[str]:
    """This server in a subprocess on ``port`` (waited for up to 20 s), its address."""
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    HANG[0] = sys.argv[2:3] == ["hang"]
    FAIL_EVERY[0] = int(sys.argv[2]) if len(sys.argv) > 2 and not HANG[0] else 0
    web.run_app(app(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
