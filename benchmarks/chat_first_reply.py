"""How long `gptcore chat` takes to answer: from pressing Enter to the first character
of the reply (issue 23's goal: under a second).

Each run is a fresh `python -m gptcore chat` process, driven through a pipe as a user
would type: the script waits until the chat is ready (its one line on standard error),
writes a question and its Enter, and times until the first character of the reply
arrives on standard output. The reply is printed whole once written (a turn of the
course model is a few tokens), so this is also the time to the whole first reply. Then
a second question is timed in the same process, with the first turn in the KV cache.
The minimum, median and maximum over the runs are printed.

    python benchmarks/chat_first_reply.py                    # the course chat model
    python benchmarks/chat_first_reply.py --runs 10 --checkpoint runs/chat.pt
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def ask(chat: subprocess.Popen, question: str) -> tuple[float, str]:
    """Seconds from writing the question (Enter included) to the reply's first
    character, and the reply."""
    start = time.perf_counter()
    chat.stdin.write(question.encode() + b"\n")
    chat.stdin.flush()
    first = chat.stdout.read(1)
    seconds = time.perf_counter() - start
    return seconds, (first + chat.stdout.readline()).decode().rstrip("\n")


def one_run(flags: list[str], questions: tuple[str, str]) -> list[tuple[float, str]]:
    """A fresh chat process: wait until it is ready, then time two turns."""
    chat = subprocess.Popen(
        [sys.executable, "-m", "gptcore", "chat", *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        ready = chat.stderr.readline().decode()
        if not ready.startswith("gptcore chat:"):
            raise SystemExit(f"the chat did not start: {ready}{chat.stderr.read()}")
        return [ask(chat, question) for question in questions]
    finally:
        chat.stdin.close()
        chat.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", default=None, help="default: the course's")
    parser.add_argument("--first", default="Spell crown backwards.")
    parser.add_argument("--second", default="What is 3 plus 4?")
    args = parser.parse_args()
    flags = ["--checkpoint", args.checkpoint] if args.checkpoint else []
    turns = [one_run(flags, (args.first, args.second)) for _ in range(args.runs)]
    for n, name in enumerate(("first reply", "second reply (cached turn)")):
        seconds = [run[n][0] for run in turns]
        print(
            f"{name}: min {min(seconds):.3f} s, median {statistics.median(seconds):.3f}"
            f" s, max {max(seconds):.3f} s over {args.runs} runs "
            f"(e.g. {turns[0][n][1]!r})"
        )


if __name__ == "__main__":
    main()
