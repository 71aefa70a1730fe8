"""Split long documents into prompt-sized chunks for batch embedding.

Chunking works in three passes: paragraphs are kept intact when they fit,
oversized paragraphs are split on sentence boundaries, and any sentence that
is still too long is cut at a fixed character width.
"""

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List

_PARA_RE = re.compile(r"\n\s*\n")
_SENT_RE = re.compile(r"(?<=[.!?])\s+")

DEFAULT_MAX_CHARS = 1200


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    index: int
    text: str

    @property
    def size(self) -> int:
        return len(self.text)


def paragraphs(text: str) -> List[str]:
    """Split on blank lines and drop empty paragraphs."""
    return [p.strip() for p in _PARA_RE.split(text) if p.strip()]


def sentences(paragraph: str) -> List[str]:
    return [s for s in _SENT_RE.split(paragraph) if s]


def hard_split(text: str, max_chars: int) -> List[str]:
    """Cut text into pieces of at most max_chars characters."""
    pieces = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        pieces.append(text[start:end])
        start = end
    return pieces


def _pack(units: Iterable[str], max_chars: int) -> List[str]:
    """Greedily join units with spaces while the result still fits."""
    packed: List[str] = []
    current = ""
    for unit in units:
        candidate = f"{current} {unit}" if current else unit
        if len(candidate) <= max_chars:
            current = candidate
            continue
        if current:
            packed.append(current)
        current = unit
    if current:
        packed.append(current)
    return packed


def chunk_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> List[str]:
    """Return chunks of at most max_chars characters covering all of text."""
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    out: List[str] = []
    for para in paragraphs(text):
        if len(para) <= max_chars:
            out.append(para)
            continue
        units: List[str] = []
        for sent in sentences(para):
            if len(sent) <= max_chars:
                units.append(sent)
            else:
                units.extend(hard_split(sent, max_chars))
        out.extend(_pack(units, max_chars))
    return out


def chunk_corpus(docs: Dict[str, str],
                 max_chars: int = DEFAULT_MAX_CHARS) -> List[Chunk]:
    """Chunk every document, numbering chunks per document from zero."""
    result: List[Chunk] = []
    for doc_id in sorted(docs):
        pieces = chunk_text(docs[doc_id], max_chars)
        result.extend(Chunk(doc_id, i, p) for i, p in enumerate(pieces))
    return result


def stats(chunks: List[Chunk]) -> Dict[str, float]:
    if not chunks:
        return {"count": 0, "mean_size": 0.0, "max_size": 0}
    sizes = [c.size for c in chunks]
    return {
        "count": len(sizes),
        "mean_size": sum(sizes) / len(sizes),
        "max_size": max(sizes),
    }
