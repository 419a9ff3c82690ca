"""The option table: every flag of ``perfanalyzer profile`` declared once, as a field of a frozen,
grouped configuration.

Each field declared with :func:`~perfanalyzer.config.option.opt` is a flag: its default, flags,
help, click type, parsing and one-field check are here and nowhere else. From this table follow the
click options (:mod:`perfanalyzer.cli.options`), the TOML keys of ``--config`` (long flag names,
:mod:`perfanalyzer.config.file`), the build from raw values and the validation
(:mod:`perfanalyzer.config.build`, :mod:`perfanalyzer.config.validate`).

**Adding a flag**: add one ``name: type = opt(DEFAULT, "--flag", help=...)`` line to its group's
module (``config/table/<group>.py``), with its policy where the defaults do not fit: ``modes=`` (the
load modes that use it; refused in the others), ``figures=False`` (cannot change the measured
figures: the gate does not compare it), ``mpi_agree=True`` (it shapes the load or the windows:
merged MPI ranks must agree on it), ``search_refused="why"`` (``perfanalyzer search`` refuses it);
:mod:`perfanalyzer.config.policy` derives the lists from them. Then use ``cfg.<group>.name`` where
it matters. Field names are unique across groups: the saved run
(``--profile-export-file``) keeps them as one flat mapping (:meth:`RunConfig.flat`).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from ..validate import validate
from .inputs import InputsConfig
from .load import LoadConfig, LoadMode
from .measurement import LatencySource, MeasurementConfig
from .output import OutputConfig
from .server import ServerConfig
from .transport import TransportConfig


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Every knob of a profiling run, grouped. Build it from flags (:func:`config.build.build`),
    from flat field names (:meth:`of`), or group by group."""

    server: ServerConfig = dataclasses.field(
        default_factory=ServerConfig, metadata={"group": ServerConfig})
    load: LoadConfig = dataclasses.field(
        default_factory=LoadConfig, metadata={"group": LoadConfig})
    measurement: MeasurementConfig = dataclasses.field(
        default_factory=MeasurementConfig, metadata={"group": MeasurementConfig})
    inputs: InputsConfig = dataclasses.field(
        default_factory=InputsConfig, metadata={"group": InputsConfig})
    transport: TransportConfig = dataclasses.field(
        default_factory=TransportConfig, metadata={"group": TransportConfig})
    output: OutputConfig = dataclasses.field(
        default_factory=OutputConfig, metadata={"group": OutputConfig})

    @classmethod
    def of(cls, **flat: Any) -> RunConfig:
        """A config from flat field names (``RunConfig.of(model="m", batch_size=4)``)."""
        return cls().replace(**flat)

    def replace(self, **flat: Any) -> RunConfig:
        """A copy with fields changed by their (flat, unique) names."""
        changes: dict[str, dict[str, Any]] = {}
        for name, value in flat.items():
            group = GROUP_OF.get(name)
            if group is None:
                raise TypeError(f"RunConfig has no field {name!r}")
            changes.setdefault(group, {})[name] = value
        return dataclasses.replace(self, **{
            g: dataclasses.replace(getattr(self, g), **kw) for g, kw in changes.items()})

    def flat(self) -> dict[str, Any]:
        """Every field by its flat name (the saved run's ``config`` mapping); enums as values."""
        out: dict[str, Any] = {}
        for g in GROUPS:
            for f in dataclasses.fields(GROUPS[g]):
                value = getattr(getattr(self, g), f.name)
                out[f.name] = value.value if isinstance(value, enum.Enum) else value
        return out

    def validate(self) -> RunConfig:
        """Checks that need no server; raises OptionError naming the flag."""
        validate(self)
        return self


#: group name → its class, in table (and --help) order.
GROUPS: dict[str, type] = {f.name: f.metadata["group"] for f in dataclasses.fields(RunConfig)}
#: flat field name → its group.
GROUP_OF: dict[str, str] = {f.name: g for g, cls in GROUPS.items()
                            for f in dataclasses.fields(cls)}

__all__ = ["GROUPS", "GROUP_OF", "InputsConfig", "LatencySource", "LoadConfig", "LoadMode",
           "MeasurementConfig",
           "OutputConfig", "RunConfig", "ServerConfig", "TransportConfig"]
