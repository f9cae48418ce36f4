"""The run directory, the single source of truth of a search, and what reads it without TensorFlow.

``rundir`` holds its files (``RunDir``, atomic writes); ``leaderboard`` turns its
trials into a table with their statuses, best first as ``ranking`` orders them;
``stop`` is the stop request that every process of a search watches. Front
ends (the notebook panel, the desktop app, the CLI) read runs through these
modules; they are public.
"""
