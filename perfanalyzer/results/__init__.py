"""The typed model of a measured run, below the reports, the gate and the search (which read
only this, never the recorded configuration mapping):

* :mod:`.run`: :class:`RunResult` (points, context, typed settings) and each point's
  :class:`Judgement` (status, over the limit, which latency), computed once;
* :mod:`.settings`: :class:`RunSettings`, built from the recorded configuration with the option
  table's defaults;
* :mod:`.combine`: ``--repeat N``: one run pooling N runs' windows;
* the enums :class:`LoadMode`, :class:`PointStatus` and :class:`LatencySource` (str-valued, so
  saved runs and CSVs hold the same text), defined where the option table and the stabilizer's
  judgement need them.
"""

from ..config import LatencySource, LoadMode
from ..measure.status import PointStatus
from .run import Judgement, RunResult
from .settings import RunSettings

__all__ = ["Judgement", "LatencySource", "LoadMode", "PointStatus", "RunResult", "RunSettings"]
