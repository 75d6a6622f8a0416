"""Byte-level BPE speed: training on the plays to a 2,000-token vocabulary, and encoding
the whole corpus.

Run by hand (never in CI), one thread as on the 2-core CI machine:

    OMP_NUM_THREADS=1 python benchmarks/bpe.py
    OMP_NUM_THREADS=1 python benchmarks/bpe.py --vocab-size 4000 --repeats 3

Training reads the training plays (the validation plays are held out, as everywhere in
the course). Encoding reads the whole corpus, training and validation plays, with a
fresh tokenizer loaded from the trained one's state, so that no piece is remembered from
training; the ids must decode back to the corpus. The best of `--repeats` runs is
reported. Targets on the 2-core machine: training <= 20 s, encoding <= 5 s.
"""

from __future__ import annotations

import argparse
import time

from gptcore.bpe import BPETokenizer
from gptcore.data import shakespeare

TRAIN_TARGET_S, ENCODE_TARGET_S = 20.0, 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    train_text, val_text = shakespeare()
    corpus = train_text + val_text
    train_s, encode_s = [], []
    for _ in range(args.repeats):
        began = time.perf_counter()
        tokenizer = BPETokenizer.train(train_text, args.vocab_size)
        train_s.append(time.perf_counter() - began)
        fresh = BPETokenizer.from_dict(tokenizer.to_dict())  # an empty piece cache
        began = time.perf_counter()
        ids = fresh.encode(corpus)
        encode_s.append(time.perf_counter() - began)
        assert fresh.decode(ids) == corpus
    corpus_mb = len(corpus.encode("utf-8")) / 1e6
    print(
        f"train: {len(train_text):,} characters -> {tokenizer.vocab_size:,} tokens "
        f"in {min(train_s):.2f} s (target <= {TRAIN_TARGET_S:.0f} s)"
    )
    print(
        f"encode: {corpus_mb:.1f} MB ({len(corpus):,} characters) -> {len(ids):,} "
        f"tokens in {min(encode_s):.2f} s (target <= {ENCODE_TARGET_S:.0f} s), "
        f"{len(corpus) / len(ids):.2f} characters per token"
    )


if __name__ == "__main__":
    main()
