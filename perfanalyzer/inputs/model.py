"""The model's inputs and outputs as the input-data builder needs them, from metadata + config.

:func:`model_io` reads the JSON-shaped dicts the clients return (Triton's field names): the metadata
gives names and KServe datatypes, the config gives the dims without the batch dimension,
``optional``, ``is_shape_tensor`` and the scheduling facts (batching, sequence, decoupled,
ensemble).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..client import tensors
from ..errors import OptionError


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output. ``shape`` excludes the batch dimension and may contain -1."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    optional: bool = False
    is_shape_tensor: bool = False

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self.shape)


@dataclass(frozen=True)
class ModelIO:
    """What the input builder and the load managers need to know about a model."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    max_batch_size: int = 0
    is_sequence: bool = False
    is_decoupled: bool = False
    is_ensemble: bool = False
    #: Models named by the ensemble's steps, in step order, without repeats.
    composing_models: tuple[str, ...] = ()

    def input(self, name: str) -> TensorSpec | None:
        return next((t for t in self.inputs if t.name == name), None)

    def output(self, name: str) -> TensorSpec | None:
        return next((t for t in self.outputs if t.name == name), None)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)


def format_shape(shape: Iterable[int]) -> str:
    """``[-1,16]``: the compact shape spelling used in every message."""
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def model_io(metadata: Mapping[str, Any], config: Mapping[str, Any]) -> ModelIO:
    """Combine model metadata and model config into a :class:`ModelIO`.

    Dims come from the config when it lists the tensor (they exclude the batch dimension); otherwise
    from the metadata shape, dropping its leading batch dimension when ``max_batch_size > 0``.
    Raises OptionError for a datatype that is not a KServe datatype.
    """
    name = str(metadata.get("name") or config.get("name") or "")
    max_batch = int(config.get("max_batch_size", 0) or 0)
    inputs = _specs(metadata.get("inputs"), config.get("input"), max_batch, name)
    outputs = _specs(metadata.get("outputs"), config.get("output"), max_batch, name)
    platform = str(config.get("platform") or metadata.get("platform") or "")
    policy = config.get("model_transaction_policy") or {}
    steps = (config.get("ensemble_scheduling") or {}).get("step") or []
    composing = tuple(dict.fromkeys(str(s.get("model_name", "")) for s in steps if s))
    return ModelIO(
        name=name,
        inputs=inputs,
        outputs=outputs,
        max_batch_size=max_batch,
        is_sequence=config.get("sequence_batching") is not None,
        is_decoupled=bool(policy.get("decoupled", False)),
        is_ensemble=platform == "ensemble",
        composing_models=tuple(m for m in composing if m),
    )


def _specs(meta_list: Sequence[Mapping[str, Any]] | None,
           config_list: Sequence[Mapping[str, Any]] | None,
           max_batch: int, model: str) -> tuple[TensorSpec, ...]:
    config_by_name = {str(c.get("name")): c for c in (config_list or [])}
    specs: list[TensorSpec] = []
    if meta_list:
        for meta in meta_list:
            tname = str(meta.get("name"))
            cfg = config_by_name.get(tname)
            datatype = _datatype(str(meta.get("datatype", "")), tname, model)
            if cfg is not None and "dims" in cfg:
                shape = tuple(int(d) for d in cfg["dims"])
            else:
                shape = tuple(int(d) for d in meta.get("shape", ()))
                if max_batch > 0 and shape:
                    shape = shape[1:]
            specs.append(_spec(tname, datatype, shape, cfg))
    else:
        for tname, cfg in config_by_name.items():
            datatype = _datatype(str(cfg.get("data_type", "")), tname, model)
            specs.append(_spec(tname, datatype, tuple(int(d) for d in cfg.get("dims", ())), cfg))
    return tuple(specs)


def _spec(name: str, datatype: str, shape: tuple[int, ...],
          cfg: Mapping[str, Any] | None) -> TensorSpec:
    cfg = cfg or {}
    return TensorSpec(name=name, datatype=datatype, shape=shape,
                      optional=bool(cfg.get("optional", False)),
                      is_shape_tensor=bool(cfg.get("is_shape_tensor", False)))


def _datatype(text: str, tensor: str, model: str) -> str:
    datatype = tensors.CONFIG_TYPES.get(text, text)
    if datatype not in tensors.NUMPY_DTYPES:
        raise OptionError(f"model {model!r}: tensor {tensor!r} has unsupported datatype {text!r}")
    return datatype


@dataclass(frozen=True, kw_only=True)
class ModelTraits:
    """Model facts that change what is reported."""

    name: str
    version: str = ""
    decoupled: bool = False
    sequence: bool = False
    ensemble: bool = False
    cache_enabled: bool = False
    composing: tuple[str, ...] = ()
    max_batch_size: int = 0
    #: Composing models that are ensembles themselves (left out of leaf-only sums).
    nested_ensembles: tuple[str, ...] = ()
    #: Composing models reached only through a nested ensemble: they get no composing CSV of
    #: their own (perf_analyzer writes one per direct child; their figures are in their parent's).
    indirect: tuple[str, ...] = ()
    #: Composing models given by --bls-composing-models (the model is a BLS model).
    bls: bool = False
