"""Random draws that can be redone: a recorded seed over a recorded population (ids, ascending)
always gives the same result, so anyone can check a spot-check or a 双随机 plan afterwards."""

from __future__ import annotations

import random
import secrets


def new_seed() -> int:
    """A fresh seed (63 bits: fits any database's integers when stored as text and read back)."""
    return secrets.randbits(63)


def pick(rng: random.Random, population: list[int], size: int) -> list[int]:
    """`size` ids drawn from `population` (all of it if smaller), ascending."""
    return sorted(rng.sample(population, min(size, len(population))))
