"""Searches across processes and machines, through KerasTuner's chief/worker mode.

``plan`` decides the worker processes (one per GPU), starts the chief and the
workers and supervises them; ``chief`` serves KerasTuner's oracle over gRPC;
``worker`` runs trials for a chief; ``auth`` is the session's token, which every
call to the chief carries; ``session`` is what they share in the run
directory; ``relay`` turns the run directory's changes into the searching
process's events.
"""
