"""Chat tasks made by the course, offline and checkable: short questions about words
from the plays and small numbers, each with a program that checks the answer."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/16_chat.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/16_chat.ipynb 27
from __future__ import annotations

import functools
import random
import re
import zlib

from gptcore.checks import check_choice, check_count, check_positive_int
from gptcore.data import load_plays

# Each task: a prompt pattern (its operand in a group) and the answer it asks for.
PROMPTS = {
    "reverse": (r"Spell ([a-z]+) backwards\.", lambda w: w[::-1]),
    "count": (r"How many ([a-z]) in ([a-z]+)\?", lambda c, w: str(w.count(c))),
    "add": (r"What is (\d) plus (\d)\?", lambda a, b: str(int(a) + int(b))),
    "first": (r"First letter of ([a-z]+)\?", lambda w: w[0]),
    "last": (r"Last letter of ([a-z]+)\?", lambda w: w[-1]),
}
TASKS: tuple[str, ...] = tuple(PROMPTS)
SPLITS = ("train", "heldout")


@functools.cache
def task_words() -> tuple[str, ...]:
    """Lower-case words of 3 to 5 letters that the plays use at least 5 times,
    sorted."""
    counts: dict[str, int] = {}
    for text in load_plays().values():
        for word in re.findall(r"\b[a-z]{3,5}\b", text):
            counts[word] = counts.get(word, 0) + 1
    return tuple(sorted(w for w, n in counts.items() if n >= 5))


def split_of(operand: str) -> str:
    """The split an operand (a word, or two numbers) belongs to, fixed by its CRC-32:
    a fifth are held out."""
    return "heldout" if zlib.crc32(operand.encode()) % 5 == 0 else "train"


def task_of(prompt: str) -> str:
    """The task a prompt asks; a ValueError if it is none of TASKS' prompts."""
    for task, (pattern, _) in PROMPTS.items():
        if re.fullmatch(pattern, prompt):
            return task
    raise ValueError(f"{prompt!r} is not a prompt of the course's tasks {TASKS}")


def operand_of(prompt: str) -> str:
    """What a prompt asks about, which decides its split: its word, or its two
    numbers."""
    task = task_of(prompt)
    found = re.fullmatch(PROMPTS[task][0], prompt).groups()
    return " ".join(found) if task == "add" else found[-1]


def answer_of(prompt: str) -> str:
    """The one right answer to a task's prompt."""
    pattern, answer = PROMPTS[task_of(prompt)]
    return answer(*re.fullmatch(pattern, prompt).groups())


def check_answer(prompt: str, answer: str) -> bool:
    """The task's checker: whether answer is exactly the right one (spaces around it
    aside)."""
    return answer.strip() == answer_of(prompt)


# %% chapters/16_chat.ipynb 28
def _draw_prompt(task: str, rng: random.Random) -> tuple[str, str]:
    """A random prompt of the task, and its operand (what decides its split)."""
    if task == "add":
        a, b = rng.randrange(10), rng.randrange(10)
        return f"What is {a} plus {b}?", f"{a} {b}"
    word = rng.choice(task_words())
    if task == "count":
        letters = word if rng.random() < 0.5 else "abcdefghijklmnopqrstuvwxyz"
        letter = rng.choice(letters)
        return f"How many {letter} in {word}?", word
    if task == "reverse":
        return f"Spell {word} backwards.", word
    return f"{task.capitalize()} letter of {word}?", word


def make_conversations(
    count: int, seed: int, split: str = "train", exchanges: int = 1
) -> list[list[dict]]:
    """count conversations of `exchanges` questions, each followed by its right answer,
    the tasks in turn; a held-out prompt's word or numbers never appear in training."""
    check_count("count", count)
    check_choice("split", split, SPLITS)
    check_positive_int("exchanges", exchanges)
    rng = random.Random(seed)
    conversations = []
    for n in range(count * exchanges):
        task = TASKS[n % len(TASKS)]
        prompt, operand = _draw_prompt(task, rng)
        while split_of(operand) != split:
            prompt, operand = _draw_prompt(task, rng)
        if n % exchanges == 0:
            conversations.append([])
        conversations[-1] += [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": answer_of(prompt)},
        ]
    return conversations


# The public names above, computed by scripts/export.py.
__all__ = [
    "PROMPTS",
    "TASKS",
    "SPLITS",
    "task_words",
    "split_of",
    "task_of",
    "operand_of",
    "answer_of",
    "check_answer",
    "make_conversations",
]
