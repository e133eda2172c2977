"""Sentence embeddings from a model shipped inside a PyPI package, loaded offline.

WordLlama (``wordllama`` on PyPI, MIT) ships its 256-dimension ``l2_supercat`` weights and
tokenizer inside the package; it is loaded from the package folder with downloads disabled, so
nothing is fetched at run time. Vectors are L2-normalised float32, stored as bytes (1,024 per
text). Token counts use the same package's tokenizer (Llama 2's vocabulary).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

DIM = 256
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model() -> Any:
    import logging

    # Importing wordllama calls logging.basicConfig(level=INFO): every library's INFO lines (each HTTP
    # request of the model client among them) would reach the console. Keep the root logger as it was.
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        import wordllama
        from wordllama import WordLlama
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers

    with _lock:
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=DIM)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors for ``texts``: shape (len(texts), 256), float32. An empty text gets a zero vector."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = np.asarray(_model().embed([t or " " for t in texts], norm=True), dtype=np.float32)
    return np.nan_to_num(vectors)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes | None) -> np.ndarray | None:
    """The vector stored as ``data``; None for a missing or damaged value (wrong length)."""
    if not data or len(data) != DIM * 4:
        return None
    return np.frombuffer(data, dtype=np.float32)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` under the shipped tokenizer (Llama 2 vocabulary)."""
    if not text:
        return 0
    return len(_model().tokenizer.encode(text, add_special_tokens=False).ids)
