"""The course's chat tasks (chapter 16): seeded, checkable, and held out by operand."""

from pathlib import Path

import pytest

from gptcore.chat import ChatTokenizer, render_chat
from gptcore.chat_tasks import (
    TASKS,
    answer_of,
    check_answer,
    make_conversations,
    operand_of,
    split_of,
    task_of,
    task_words,
)
from gptcore.checkpoint import load_model


def test_the_same_seed_gives_the_same_conversations():
    assert make_conversations(20, seed=3) == make_conversations(20, seed=3)
    assert make_conversations(20, seed=3) != make_conversations(20, seed=4)


def test_every_task_takes_its_turn_and_its_answer_checks():
    chats = make_conversations(50, seed=0)
    assert [task_of(m[0]["content"]) for m in chats[:5]] == list(TASKS)
    for messages in chats:
        prompt, answer = messages[0]["content"], messages[1]["content"]
        assert check_answer(prompt, answer) and check_answer(prompt, f" {answer} ")
        assert not check_answer(prompt, answer + "x")


@pytest.mark.parametrize(
    "prompt, answer",
    [
        ("Spell king backwards.", "gnik"),
        ("How many e in sweet?", "2"),
        ("How many z in sweet?", "0"),
        ("What is 7 plus 6?", "13"),
        ("First letter of crown?", "c"),
        ("Last letter of crown?", "n"),
    ],
)
def test_each_checker(prompt, answer):
    assert answer_of(prompt) == answer


def test_heldout_operands_never_appear_in_training():
    train = {operand_of(m[0]["content"]) for m in make_conversations(3000, seed=0)}
    heldout = make_conversations(300, seed=1, split="heldout")
    held = {operand_of(m[0]["content"]) for m in heldout}
    assert not train & held
    assert all(split_of(operand) == "heldout" for operand in held)


def test_an_unknown_prompt_or_split_is_named():
    with pytest.raises(ValueError, match="not a prompt of the course's tasks"):
        task_of("Tell me a story.")
    with pytest.raises(ValueError, match="split must be one of 'train', 'heldout'"):
        make_conversations(3, seed=0, split="test")


def test_every_conversation_fits_the_course_model():
    model, chars = load_model(Path(__file__).parents[2] / "checkpoints" / "course.pt")
    tokenizer = ChatTokenizer(chars)
    for messages in make_conversations(200, 0) + make_conversations(50, 1, "heldout"):
        assert len(render_chat(messages, tokenizer)[0]) <= model.config.block_size


def test_two_exchanges_fit_for_training():
    model, chars = load_model(Path(__file__).parents[2] / "checkpoints" / "course.pt")
    tokenizer = ChatTokenizer(chars)
    for messages in make_conversations(100, seed=0, exchanges=2):
        assert [turn["role"] for turn in messages] == ["user", "assistant"] * 2
        ids, learn = render_chat(messages, tokenizer)
        assert len(ids) <= model.config.block_size + 1  # the last id only a target
        answers = messages[1]["content"] + messages[3]["content"]
        assert sum(learn) == len(answers) + 2  # both answers and their <|end|>s


def test_words_are_short_lower_case_words():
    words = task_words()
    assert len(words) > 1000 and all(w.isalpha() and w.islower() for w in words)
    assert all(3 <= len(w) <= 5 for w in words)
