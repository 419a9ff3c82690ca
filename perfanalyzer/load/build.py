"""The one place that decides which load manager a run gets (in this process or in workers).

===================  =========================================  ====================================
mode                 model without sequences                    sequence model
===================  =========================================  ====================================
concurrency          ClosedLoopManager over the payloads        ClosedLoopManager, one seq/worker
request rate         RequestRateManager over RoundRobin         RequestRateManager over
custom intervals     (same, interval schedule)                  SequenceSlots (--num-of-sequences)
===================  =========================================  ====================================

With ``--streaming`` every sender is a gRPC stream (one per worker, one shared in rate modes). With
more than one worker (``--workers N``, or automatic in rate mode; :func:`.workers.worker_count`) the
run gets a :class:`~.workers.WorkerLoad`, and each worker process builds its share with
:func:`local_load` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..client.base import InferenceClient
from ..config import LoadMode
from ..errors import OptionError
from ..inputs.setup import requests_for
from ..records import RecordBuffer
from .base import LoadManager
from .concurrency import ClosedLoopManager
from .factory import schedule_for, sequence_options
from .request_rate import (
    DEFAULT_MAX_IN_FLIGHT,
    JobSource,
    RequestRateManager,
    RoundRobin,
    SenderFactory,
    unary_sender,
)
from .schedule import Schedule
from .sequences import SequenceSlots, SequenceSource
from .settings import LoadSettings
from .share import Share, Strided, split
from .validating import check_on_mismatch, sender_for
from .workers import WorkerLoad, unsupported, worker_count

if TYPE_CHECKING:
    from ..inputs.setup import ModelSetup


def build_load(load: LoadSettings, client: InferenceClient, setup: ModelSetup,
               payloads: Sequence[Any], buffer: RecordBuffer) -> LoadManager:
    """The load manager of a run: worker processes when more than one is asked (or needed),
    else the one-process manager of the module table."""
    check_on_mismatch(load.on_mismatch, setup)
    n = worker_count(load)
    if n > 1:
        reason = unsupported(load, setup)
        if reason is None:
            return WorkerLoad(load, payloads, buffer, n)
        if load.workers > 1:
            raise OptionError(f"--workers {load.workers}: {reason}; use --workers 1")
    sequences: SequenceSource | None = None
    if setup.io.is_sequence or load.streaming:
        requests = setup.requests or requests_for(load.requests, setup)
        if load.streaming:
            from .streaming import streaming_requests  # gRPC streams: protobuf, only then

            requests = streaming_requests(requests)
            payloads = [client.prepare(r) for s in requests for r in s]
        if setup.io.is_sequence:
            sequences = SequenceSource(client.prepare, requests, sequence_options(load),
                                       user_data=setup.data.user_data)
    # validation_data, --export-tensors: a sender that checks (a checking stream with --streaming)
    checked = sender_for(load, client, setup, payloads, sequences)
    return local_load(load, client, payloads, buffer, sequences=sequences, sender=checked)


def local_load(load: LoadSettings, client: InferenceClient, payloads: Sequence[Any],
               buffer: RecordBuffer, *, sequences: SequenceSource | None = None,
               share: Share | None = None, sender: SenderFactory | None = None) -> LoadManager:
    """The one-process manager (module table). ``share``: this process is one worker of several
    (its part of the max-threads cap, its stride of the shared schedule). ``sender``: one that
    decodes and checks every answer (:mod:`.validating`) instead of the plain one."""
    new_sender: SenderFactory = sender or unary_sender(client)
    if load.streaming and sender is None:
        from .streaming import stream_sender

        new_sender = stream_sender(client)
    elif load.endpoint == "generate_stream":
        from .generate_stream import generate_stream_sender

        new_sender = generate_stream_sender(client)
    limit = send_limit(load)
    # plain unary sends (no sequences, no stream, no check of the answers): the client may start
    # them without a coroutine (no lane, no task step)
    plain = (sender is None and sequences is None and not load.streaming
             and load.endpoint != "generate_stream")
    if load.mode is LoadMode.CONCURRENCY:
        # workers split the concurrency, not evenly the sends: a worker without a slot would
        # hold back its share, so a closed loop over workers is not limited
        return ClosedLoopManager(new_sender, buffer, payloads=payloads, sequences=sequences,
                                 send_limit=limit if share is None else 0,
                                 nowait=client if plain else None)
    jobs: JobSource
    finish = None
    if sequences is not None:
        slots = SequenceSlots(sequences, load.num_of_sequences)
        jobs, finish = slots, slots.finish
    else:
        jobs = RoundRobin(payloads)
    # no --max-threads: the default cap, so a server that falls behind bounds the client's memory
    cap, schedules = load.max_threads or DEFAULT_MAX_IN_FLIGHT, schedule_for(load)
    holder: list[RequestRateManager] = []
    if share is not None:
        cap = split(cap, share.workers)[share.index] if cap > 0 else 0
        # a strided schedule gives worker k the requests k, k+n, ...: split's shares exactly
        limit = split(limit, share.workers)[share.index] if limit > 0 else 0
        base = schedules

        def strided(level: float) -> Schedule:
            return Strided(base(level), share.index, share.workers, share.t0[0], holder[0])

        schedules = strided
    manager = RequestRateManager(new_sender, buffer, schedules, jobs, max_in_flight=max(cap, 0),
                                 finish=finish, send_limit=limit, nowait=client if plain else None)
    holder.append(manager)
    return manager


def send_limit(load: LoadSettings) -> int:
    """--request-count: perf_analyzer sends exactly the warm-up requests and N more, so the one
    window's sends, completions and the server's count are the same requests (0: no limit)."""
    return load.warmup_request_count + load.request_count if load.request_count > 0 else 0


__all__ = ["build_load", "local_load", "send_limit"]
