"""The seed of each replication: common random numbers across points, spawned seeds across
replications.

Replication ``r`` of every point runs with the same seed, and the seeds of different
replications come from spawning the base seed's ``SeedSequence``, never from ``seed + r``.
"""

from __future__ import annotations

import numpy as np


def replication_seeds(base_seed: int, replications: int) -> tuple[int, ...]:
    """The run seed of each replication: ``SeedSequence(base_seed).spawn(R)[r]`` as an int.

    Each child's first 64-bit word of state, ``generate_state(1, uint64)[0]``, is the
    seed: an int, so ``mailsim run SCENARIO --seed <it>`` reproduces the run exactly.
    Child ``r`` has spawn key ``(r,)`` whatever ``R`` is, so adding replications to a
    sweep keeps the seeds of those already run.
    """
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    children = np.random.SeedSequence(base_seed).spawn(replications)
    return tuple(int(child.generate_state(1, np.uint64)[0]) for child in children)
