"""The phases of a run, each in its own module; :mod:`vdmbench.runner` orders them.

- :mod:`~vdmbench.phases.generation`: generate what the video cache lacks;
- :mod:`~vdmbench.phases.evaluation`: stream a model's cached videos through the suite's metrics;
- :mod:`~vdmbench.phases.sharding`: a rank's share of a distributed run (videos, feature cache);
- :mod:`~vdmbench.phases.timing`: one interleaved timing session → each record's ``speed``;
- :mod:`~vdmbench.phases.record`: the one place a result record is assembled.
"""
