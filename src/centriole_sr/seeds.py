"""Seeds that do not depend on how many fields a run has."""

import zlib


def field_seed(seed: int, field: str) -> int:
    """A per-field seed from a config seed and the field's name."""
    return seed * 1_000_003 + zlib.crc32(field.encode())
