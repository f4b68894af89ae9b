"""VBench for vdmbench: the prompt set and its file naming, VBench's score aggregation
(Quality / Semantic / Total), the native ``temporal_flickering`` metric, and a runner that
evaluates written videos with VBench's own code in a separate Python environment.

Importing this package imports nothing heavy; see ``docs/vbench.md``.
"""
