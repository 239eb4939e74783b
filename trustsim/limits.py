"""Bounds shared by the command line, the Python API and the input files.

Kept in a module of its own, free of heavy imports, so the CLI can declare its options
with them while `trustsim --help` stays instant.
"""

# numpy's SeedSequence takes any non-negative integer; 63 bits keep a seed a signed
# 64-bit integer in every file format that stores it (Parquet, JSON readers, SQL).
MAX_SEED = 2**63 - 1
# The same cap as `time.steps` in a scenario file: a horizon a run finishes in minutes.
MAX_STEPS = 100_000
