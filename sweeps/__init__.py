"""sweeps: one Hydra multirun config per paper figure (the YAML files here, read through the
`conf/sweep` link), and `sweeps.report`, which turns the finished runs of sweeps into tables,
figures, claim checks and advice.
"""
