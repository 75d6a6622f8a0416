"""Byte-level byte-pair encoding (BPE): sub-word tokens learned from text, for any text.

The base vocabulary is the 256 byte values, so every string that can be written as
UTF-8 has a spelling and no token is ever unknown.
"""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/14_vocabulary_and_scale.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/14_vocabulary_and_scale.ipynb 6
from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict

import torch

from gptcore.checks import check_positive_int

# Word-like pieces, GPT-2's rule written for Python's `re` (which has no \p{L}):
# [^\W\d_] is a letter of any script, \d a digit, [^\s\w]|_ anything else but spaces.
# A piece keeps the one space in front of it; merges never cross a piece's edges.
PIECE = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"
)
BYTES = 256  # the base vocabulary: one token per byte value


def pretokenize(text: str) -> list[str]:
    """Cut text into word-like pieces (a word keeps its leading space); they join back
    to text."""
    return PIECE.findall(text)


def to_utf8(text: str) -> bytes:
    """The UTF-8 bytes of text; a ValueError for a str that has no UTF-8 form."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"the text holds {text[error.start : error.end]!r} at position "
            f"{error.start}, a lone surrogate that UTF-8 cannot write: decode the "
            "source with errors='replace', or remove it"
        ) from None


# %% chapters/14_vocabulary_and_scale.ipynb 9
def merge_pair(
    ids: tuple[int, ...], pair: tuple[int, int], new_id: int
) -> tuple[int, ...]:
    """Replace each occurrence of the adjacent pair in ids, left to right, by new_id."""
    out, i, last = [], 0, len(ids) - 1
    while i <= last:
        if i < last and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


# %% chapters/14_vocabulary_and_scale.ipynb 12
def learn_merges(text: str, num_merges: int) -> list[tuple[int, int]]:
    """Up to num_merges merges of text's pieces: the most frequent pair first (ties: the
    larger pair).

    Fast: each distinct piece is stored once with its count; a merge updates the pair
    counts of only the pieces that hold the pair, and a heap finds the next best pair.
    """
    counts = Counter(pretokenize(text))
    words = [tuple(to_utf8(piece)) for piece in counts]
    weights = list(counts.values())
    pairs: Counter[tuple[int, int]] = Counter()  # pair -> weighted count
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # -> words
    for w, (word, n) in enumerate(zip(words, weights)):
        for pair in zip(word, word[1:]):
            pairs[pair] += n
            where[pair].add(w)
    # the heap holds (-count, -first, -second): its top is the largest (count, pair);
    # entries whose count is out of date are skipped when they reach the top
    heap = [(-n, -a, -b) for (a, b), n in pairs.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < num_merges and heap:
        n, a, b = heapq.heappop(heap)
        best = (-a, -b)
        if pairs.get(best, 0) != -n:
            continue  # stale: this pair's count has changed since the entry
        new_id = BYTES + len(merges)
        merges.append(best)
        changed = set()
        for w in where.pop(best):
            old, weight = words[w], weights[w]
            new = merge_pair(old, best, new_id)
            for pair in zip(old, old[1:]):
                pairs[pair] -= weight
                changed.add(pair)
                if pair != best:
                    where[pair].discard(w)
            for pair in zip(new, new[1:]):
                pairs[pair] += weight
                changed.add(pair)
                where[pair].add(w)
            words[w] = new
        for pair in changed:
            if pairs[pair] > 0:
                heapq.heappush(heap, (-pairs[pair], -pair[0], -pair[1]))
            else:
                del pairs[pair]
                where.pop(pair, None)
    return merges


# %% chapters/14_vocabulary_and_scale.ipynb 16
class BPETokenizer:
    """Byte-level BPE: text to UTF-8 bytes, then learned merges of adjacent tokens; and
    back."""

    def __init__(self, merges: list[tuple[int, int]]):
        self.merges: list[tuple[int, int]] = []
        self.vocab = [bytes([b]) for b in range(BYTES)]  # token id -> its bytes
        for a, b in merges:
            known = range(len(self.vocab))  # a merge joins tokens that exist before it
            if not all(isinstance(i, int) and i in known for i in (a, b)):
                raise ValueError(
                    f"merge {len(self.merges)} joins {(a, b)!r}, but only tokens "
                    f"0..{len(self.vocab) - 1} exist before it: the merges are "
                    "corrupt; train the tokenizer again"
                )
            self.merges.append((a, b))
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        if len(self.ranks) != len(self.merges):
            raise ValueError("a pair is merged twice: each merge must be new")
        self._cache: dict[str, list[int]] = {}  # piece -> its ids, filled by encode

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        """Learn vocab_size - 256 merges from text; a ValueError if it runs out of
        pairs first."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        check_positive_int("vocab_size", vocab_size)
        if vocab_size <= BYTES:
            raise ValueError(
                f"vocab_size must be above {BYTES}, the byte values every text is "
                f"made of, to learn at least one merge; got {vocab_size}"
            )
        merges = learn_merges(text, vocab_size - BYTES)
        if not merges:
            raise ValueError(
                "the text has no pair of adjacent bytes to merge (it is empty, or "
                "every piece is a single byte): train on more text"
            )
        if len(merges) < vocab_size - BYTES:
            raise ValueError(
                f"the text runs out of pairs to merge after {len(merges)} merges, so "
                f"it makes at most {BYTES + len(merges)} tokens: ask for "
                f"vocab_size <= {BYTES + len(merges)}, or train on more text"
            )
        return cls(merges)

    @property
    def vocab_size(self) -> int:
        """The number of tokens: 256 bytes plus one per merge."""
        return len(self.vocab)

    def _encode_piece(self, piece: str) -> list[int]:
        """One piece's ids: merge the earliest-learned adjacent pair until none is
        left."""
        ids = tuple(piece.encode("utf-8"))
        ranks, never = self.ranks, len(self.merges)
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, never))
            if pair not in ranks:
                break
            ids = merge_pair(ids, pair, BYTES + ranks[pair])
        return list(ids)

    def encode(self, text: str) -> list[int]:
        """Text to ids; each distinct piece is encoded once and remembered."""
        to_utf8(text)  # a clear ValueError if text has no UTF-8 form
        ids: list[int] = []
        cache = self._cache
        for piece in pretokenize(text):
            piece_ids = cache.get(piece)
            if piece_ids is None:
                piece_ids = cache[piece] = self._encode_piece(piece)
            ids.extend(piece_ids)
        return ids

    def decode_bytes(self, ids: list[int] | torch.Tensor) -> bytes:
        """Ids (a list or a 1-D tensor) back to the bytes they stand for."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not (isinstance(i, int) and 0 <= i < len(self.vocab))]
        if bad:
            raise ValueError(
                f"ids outside 0..{len(self.vocab) - 1}: {bad[:5]}; were they made by "
                "another tokenizer?"
            )
        return b"".join([self.vocab[i] for i in ids])

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """Ids back to text. The ids of a whole text give it back exactly; bytes of a
        character cut in two (a slice of the ids) become U+FFFD, the replacement
        character."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        """JSON-able state, stored in checkpoints: the merges and the piece rule."""
        return {
            "type": "bpe",
            "pieces": PIECE.pattern,
            "merges": [list(pair) for pair in self.merges],
        }

    @classmethod
    def from_dict(cls, state: dict) -> BPETokenizer:
        """Rebuild a tokenizer from `to_dict()`'s output; a ValueError for any other
        state."""
        if (
            not isinstance(state, dict)
            or state.get("type") != "bpe"
            or not isinstance(state.get("merges"), list)
            or not all(
                isinstance(pair, (list, tuple)) and len(pair) == 2
                for pair in state["merges"]
            )
        ):
            raise ValueError(f"not a BPE tokenizer's state: {state!r:.80}")
        if state.get("pieces") != PIECE.pattern:
            raise ValueError(
                "this BPE state was made with another pre-tokenizer rule "
                f"({state.get('pieces')!r:.60}), so its merges do not fit this "
                "version's pieces: train the tokenizer again"
            )
        return cls([tuple(pair) for pair in state["merges"]])


# The public names above, computed by scripts/export.py.
__all__ = [
    "PIECE",
    "BYTES",
    "pretokenize",
    "to_utf8",
    "merge_pair",
    "learn_merges",
    "BPETokenizer",
]
