"""``--enable-mpi``: several perfanalyzer processes (MPI ranks, possibly on several hosts) run as
one measurement, through ``mpi4py`` (the ``mpi`` extra).

* :mod:`.world`: is this process under ``mpiexec``, which ranks form a group (same model, endpoint
  and load flags: one merged load), and the flag checks done before any load;
* :mod:`.exchange`: the non-blocking collectives, each with a deadline, that name a missing rank;
* :mod:`.sync`: the :class:`~perfanalyzer.measure.sync.RunSync` hook (level starts, window edges,
  the "everyone stable" decision);
* :mod:`.merge`: a merged group's records, shipped to its leader at every window edge;
* :mod:`.session`: the glue the command uses;
* :mod:`.guard`: the process beside each rank (MPI_Init's deadline; the shared memory MPI leaves
  when a host's ranks do not finish).
"""
