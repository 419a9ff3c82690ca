"""What the test modules share (a test module imports from here, never from another test module).

* ``aio``: async test bodies without pytest-asyncio;
* ``infer_requests``: the test model repository and the add_sub / delay requests;
* ``grpc_calls``, ``http_calls``: clients for the test server and per-protocol helpers;
* ``triton_stats``: Triton's counters, read once they have settled;
* ``cli_runs``: configurations from flags, in-process profiles and the CLI in a subprocess;
* ``model_io``: model I/O descriptions and input-data helpers;
* ``sequences``: sequence sources over the sequence_acc model's steps;
* ``shm``: system shared-memory segments, cleanups and registered regions;
* ``saved_runs``, ``synthetic_runs``: runs built without a server (report, gate and search tests);
* ``fault_servers``: misbehaving loopback servers; ``kserve_server``: a KServe v2 server without
  Triton's extensions (run as a script);
* ``mpi_runs``: running mpiexec, reading exports, network namespaces.
"""
