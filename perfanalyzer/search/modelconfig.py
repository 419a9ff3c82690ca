"""A candidate as a Triton model configuration: the server's own config JSON with the candidate's
settings merged in (what the load call sends), and the same as ``config.pbtxt`` text."""

from __future__ import annotations

import copy
import json
from typing import Any

from google.protobuf import json_format, text_format

from .._proto import model_config_pb2
from ..errors import OptionError
from .space import Candidate

#: Keys of the server's config JSON that describe the loaded instance, not the configuration.
_RUNTIME_KEYS = ("version_policy_state",)
#: The model parameter a search puts in every candidate it loads: any other search (on any
#: machine) sees that the loaded configuration is a search's candidate, not the model's own.
MARKER = "perfanalyzer_search"


def plain(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without the runtime keys and without a search's marker."""
    out = copy.deepcopy(config)
    for key in _RUNTIME_KEYS:
        out.pop(key, None)
    params = out.get("parameters")
    if isinstance(params, dict) and MARKER in params:
        params.pop(MARKER)
        if not params:
            out.pop("parameters")
    return out


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two configurations are the same, markers and runtime keys aside."""
    def canon(c: dict[str, Any]) -> str:
        c = plain(c)
        if not c.get("parameters"):
            c.pop("parameters", None)
        return json.dumps(c, sort_keys=True)
    return canon(a) == canon(b)


def marker_of(config: dict[str, Any]) -> dict[str, str] | None:
    """The marker of the search whose candidate ``config`` is (None: not a search's)."""
    params = config.get("parameters")
    entry = params.get(MARKER) if isinstance(params, dict) else None
    if not isinstance(entry, dict):
        return None
    try:
        mark = json.loads(str(entry.get("string_value", "")))
    except ValueError:
        mark = None
    if not isinstance(mark, dict):
        return {"id": "", "dir": "unknown"}
    folder = "".join(ch for ch in str(mark.get("dir", "unknown"))[:300] if ch.isprintable())
    return {"id": str(mark.get("id", "")), "dir": folder}


def marked(config: dict[str, Any], search_id: str, folder: str) -> dict[str, Any]:
    """``config`` carrying the marker of the search ``search_id`` (output folder ``folder``)."""
    out = plain(config)
    params = dict(out.get("parameters") or {})
    params[MARKER] = {"string_value": json.dumps({"id": search_id, "dir": folder})}
    out["parameters"] = params
    return out


def default_candidate(config: dict[str, Any], client_batch: int) -> Candidate:
    """The model's configuration as the server reports it, as a candidate."""
    groups = config.get("instance_group") or [{}]
    count = int(groups[0].get("count") or 1)
    mbs = int(config.get("max_batch_size") or 0)
    db = config.get("dynamic_batching")
    on = db is not None and mbs > 0
    delay = int((db or {}).get("max_queue_delay_microseconds") or 0) if on else 0
    pref = tuple(int(p) for p in (db or {}).get("preferred_batch_size") or ()) if on else ()
    return Candidate(instance_count=count, max_batch_size=mbs, dynamic_batching=on,
                     max_queue_delay_us=delay, preferred_batch_sizes=pref,
                     client_batch=client_batch if mbs else 1)


def kind_of(config: dict[str, Any]) -> str:
    """The model's instance kind as the search names it ("cpu" or "gpu"; KIND_AUTO and
    KIND_MODEL count as what Triton makes of them on this server: unknown here, "")."""
    groups = config.get("instance_group") or [{}]
    kind = str(groups[0].get("kind") or "")
    return {"KIND_CPU": "cpu", "KIND_GPU": "gpu"}.get(kind, "")


def merged_config(config: dict[str, Any], c: Candidate) -> dict[str, Any]:
    """``config`` (the server's JSON) with the candidate's settings: instance count on every
    instance group, max_batch_size, and dynamic batching (kept fields of the original block, e.g.
    priority levels, stay)."""
    out = plain(config)
    groups = out.get("instance_group") or [{"kind": "KIND_CPU"}]
    for g in groups:
        g["count"] = c.instance_count
        if c.instance_kind:
            g["kind"] = f"KIND_{c.instance_kind.upper()}"
            if c.instance_kind == "cpu":
                g.pop("gpus", None)  # GPU ids mean nothing to CPU instances
    out["instance_group"] = groups
    out["max_batch_size"] = c.max_batch_size
    if c.dynamic_batching:
        db = dict(out.get("dynamic_batching") or {})
        db["max_queue_delay_microseconds"] = str(c.max_queue_delay_us)
        db["preferred_batch_size"] = list(c.preferred_batch_sizes)
        out["dynamic_batching"] = db
    else:
        out.pop("dynamic_batching", None)
    return out


def to_pbtxt(config: dict[str, Any]) -> str:
    """The configuration as text protobuf (what ``config.pbtxt`` holds)."""
    msg = model_config_pb2.ModelConfig()
    try:
        json_format.ParseDict(config, msg, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OptionError(f"the model configuration cannot be written as config.pbtxt: {exc}") \
            from exc
    return text_format.MessageToString(msg)
