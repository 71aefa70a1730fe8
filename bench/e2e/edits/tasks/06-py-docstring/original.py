"""Capacity planning for the paged KV cache.

Used by the launcher to pick a block count that fits the GPU, and by the
admission controller to decide whether a new request can be scheduled.
"""

from dataclasses import dataclass
from typing import Iterable

BYTES_PER_ELEMENT = {"f32": 4, "f16": 2, "bf16": 2, "q8_0": 1}


@dataclass(frozen=True)
class ModelShape:
    n_layers: int
    n_kv_heads: int
    head_dim: int
    dtype: str = "f16"

    def bytes_per_token(self) -> int:
        """K and V for every layer, for a single token position."""
        elem = BYTES_PER_ELEMENT[self.dtype]
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim * elem


def blocks_for_tokens(num_tokens: int, block_size: int) -> int:
    if num_tokens < 0:
        raise ValueError("num_tokens must be non-negative")
    if block_size <= 0:
        raise ValueError("block_size must be positive")
    return (num_tokens + block_size - 1) // block_size


def block_bytes(shape: ModelShape, block_size: int) -> int:
    """Size of one cache block in bytes."""
    return shape.bytes_per_token() * block_size


def max_blocks(shape: ModelShape, block_size: int, free_bytes: int,
               reserve_fraction: float = 0.1) -> int:
    """How many blocks fit in `free_bytes`, keeping a safety reserve."""
    usable = int(free_bytes * (1.0 - reserve_fraction))
    return max(0, usable // block_bytes(shape, block_size))


def fits(prompt_lens: Iterable[int], max_new_tokens: int, block_size: int,
         free_blocks: int) -> bool:
    """Whether every request could run to completion in the free blocks."""
    needed = 0
    for n in prompt_lens:
        needed += blocks_for_tokens(n + max_new_tokens, block_size)
        if needed > free_blocks:
            return False
    return True


def describe(shape: ModelShape, block_size: int, free_bytes: int) -> str:
    n = max_blocks(shape, block_size, free_bytes)
    tokens = n * block_size
    mib = n * block_bytes(shape, block_size) / (1 << 20)
    return (f"{n} blocks x {block_size} tokens = {tokens} tokens "
            f"({mib:.0f} MiB, {shape.dtype})")
