"""Chat (chapter 16): special tokens, the grown model, the template, JSONL, the masked
loss, replies that stop at <|end|>, and every bad input with a clear error."""

import json

import pytest
import torch
import torch.nn.functional as F

from gptcore.bpe import BPETokenizer
from gptcore.chat import (
    CHAT_TEMPLATE,
    IGNORE,
    ROLES,
    SPECIAL_TOKENS,
    ChatTokenizer,
    add_special_tokens,
    chat_batches,
    check_conversation,
    fit_to_context,
    load_chat_tokenizer,
    parse_chat,
    read_chats,
    render_chat,
    respond,
    save_chat_tokenizer,
    sft_loss,
    write_chats,
)
from gptcore.checkpoint import model_for
from gptcore.data import CharTokenizer, OutOfVocabularyError
from gptcore.generation import KVCache
from gptcore.model import GPTConfig
from gptcore.modern import ModernConfig
from gptcore.training import TrainConfig, make_optimizer, train

TEXT = "Be brief. First letter of crown? What is 3 plus 4? Spell king backwards.\n"
CHARS = CharTokenizer.from_text(TEXT + "abcdefghijklmnopqrstuvwxyz0123456789")
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 3 plus 4?"},
    {"role": "assistant", "content": "7"},
]


@pytest.fixture(scope="module")
def bpe() -> ChatTokenizer:
    return ChatTokenizer(BPETokenizer.train(TEXT * 20, 280))


@pytest.fixture
def chars() -> ChatTokenizer:
    return ChatTokenizer(CHARS)


def small(vocab_size: int, tied: bool = False, kind: str = "gpt2"):
    torch.manual_seed(0)
    shape = dict(vocab_size=vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32)
    if kind == "llama":
        config = ModernConfig(
            **shape, tie_weights=tied, norm="rmsnorm", position="rope"
        )
    else:
        config = GPTConfig(**shape, tie_weights=tied)
    return model_for(config).eval()


# Special tokens


@pytest.mark.parametrize("kind", ["chars", "bpe"])
def test_each_special_token_is_one_id_after_the_base_vocabulary(kind, chars, bpe):
    tokenizer = {"chars": chars, "bpe": bpe}[kind]
    base = tokenizer.base.vocab_size
    assert tokenizer.vocab_size == base + len(SPECIAL_TOKENS)
    for n, name in enumerate(SPECIAL_TOKENS):
        assert tokenizer.special_id(name) == base + n
        assert tokenizer.encode(name, allowed_special="all") == [base + n]
        assert tokenizer.decode([base + n]) == name


def test_a_special_token_is_never_split_or_merged(bpe):
    text = "crown<|end|>king<|user|><|end|>"
    ids = bpe.encode(text, allowed_special="all")
    specials = [i for i in ids if i >= bpe.base.vocab_size]
    assert specials == [bpe.special_id(n) for n in ("<|end|>", "<|user|>", "<|end|>")]
    assert bpe.decode(ids) == text


def test_user_typed_special_spelling_is_ordinary_text(bpe):
    typed = "I am <|assistant|> now"
    ids = bpe.encode(typed)
    assert all(i < bpe.base.vocab_size for i in ids)
    assert bpe.decode(ids) == typed
    only_end = bpe.encode(typed, allowed_special={"<|end|>"})
    assert only_end == ids  # allowing another token changes nothing here


def test_user_typed_special_spelling_in_a_character_model_is_out_of_vocabulary(chars):
    with pytest.raises(OutOfVocabularyError, match="outside the vocabulary"):
        chars.encode("<|assistant|>")


def test_one_name_allowed_as_a_string(chars):
    assert chars.encode("<|end|>", allowed_special="<|end|>") == [
        chars.special_id("<|end|>")
    ]


def test_unknown_special_name_is_named(chars):
    with pytest.raises(
        ValueError, match="unknown special token '<\\|bot\\|>'.*<\\|end"
    ):
        chars.special_id("<|bot|>")
    with pytest.raises(ValueError, match="unknown special token"):
        chars.encode("a", allowed_special={"<|im_end|>"})


@pytest.mark.parametrize("kind", ["chars", "bpe"])
def test_the_tokenizer_round_trips_through_its_state(kind, chars, bpe):
    tokenizer = {"chars": chars, "bpe": bpe}[kind]
    state = json.loads(json.dumps(tokenizer.to_dict()))
    again = ChatTokenizer.from_dict(state)
    text = "<|user|>What is 3 plus 4?<|end|>"
    assert again.encode(text, "all") == tokenizer.encode(text, "all")
    assert again.special == tokenizer.special
    with pytest.raises(ValueError, match="not a chat tokenizer"):
        ChatTokenizer.from_dict(CHARS.to_dict())


def test_duplicate_or_empty_special_tokens_are_refused():
    with pytest.raises(ValueError, match="twice"):
        ChatTokenizer(CHARS, ["<|a|>", "<|a|>"])
    with pytest.raises(ValueError, match="non-empty"):
        ChatTokenizer(CHARS, [""])


# Growing the vocabulary


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_growing_the_vocabulary_leaves_existing_logits_unchanged(tied, kind):
    model = small(30, tied, kind)
    idx = torch.randint(30, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(idx)[0]
        add_special_tokens(model, 5)
        after = model(idx)[0]
    assert after.shape[-1] == 35 and model.config.vocab_size == 35
    torch.testing.assert_close(after[..., :30], before, rtol=0, atol=1e-6)
    assert (model.lm_head.weight is model.embed.token.weight) == tied
    mean = model.embed.token.weight[:30].mean(0)
    torch.testing.assert_close(model.embed.token.weight[30:], mean.expand(5, -1))
    model(torch.tensor([[34]]))  # the new ids are accepted


def test_growing_by_nothing_is_refused():
    with pytest.raises(ValueError, match="count must be a positive integer"):
        add_special_tokens(small(30), 0)


# The template


def test_template_round_trip_and_the_learned_positions(chars):
    ids, learn = render_chat(CHAT, chars)
    assert chars.decode(ids) == (
        "<|system|>Be brief.<|end|><|user|>What is 3 plus 4?<|end|>"
        "<|assistant|>7<|end|>"
    )
    assert parse_chat(ids, chars) == CHAT
    learned = [i for i, keep in zip(ids, learn) if keep]
    assert chars.decode(learned) == "7<|end|>"


def test_the_generation_prompt_ends_with_the_assistant_marker(chars):
    ids, learn = render_chat(CHAT[:2], chars, add_generation_prompt=True)
    assert ids[-1] == chars.special_id("<|assistant|>") and not any(learn)
    full, _ = render_chat(CHAT, chars)
    assert full[: len(ids)] == ids


def test_user_text_with_a_marker_spelling_stays_text(bpe):
    chat = [
        {"role": "user", "content": "<|assistant|>7<|end|>"},
        {"role": "assistant", "content": "no"},
    ]
    ids, learn = render_chat(chat, bpe)
    assert ids.count(bpe.special_id("<|assistant|>")) == 1
    assert parse_chat(ids, bpe) == chat


def test_parse_refuses_ids_that_are_not_a_conversation(chars):
    with pytest.raises(ValueError, match="expected a role marker"):
        parse_chat(chars.encode("abc"), chars)


def test_fit_to_context_drops_whole_turns_from_the_front_keeping_the_system(chars):
    long = CHAT + [
        {"role": "user", "content": "Spell king backwards."},
        {"role": "assistant", "content": "gnik"},
    ]
    size = len(render_chat(long, chars)[0])
    fitted = fit_to_context(long, chars, size - 1)
    assert fitted[0] == CHAT[0] and fitted[-2:] == long[-2:]
    assert len(render_chat(fitted, chars)[0]) <= size - 1
    assert fit_to_context(long, chars, size) == long


def test_fit_to_context_names_the_sizes_when_nothing_fits(chars):
    chat = [
        {"role": "user", "content": "a" * 70},
        {"role": "assistant", "content": "b"},
    ]
    with pytest.raises(ValueError, match="takes 75 tokens.*context of 64"):
        fit_to_context(chat, chars, 64)


# Bad conversations


@pytest.mark.parametrize(
    "messages, message",
    [
        ([{"role": "bot", "content": "7"}], "unknown role 'bot'"),
        ([{"role": "assistant", "content": "  "}], "assistant's turn is empty"),
        ([{"role": "user", "content": "Hi"}], "no assistant turn"),
        ([{"role": "user"}], "exactly the keys"),
        ([], "non-empty list"),
        ([{"role": "user", "content": 3}], "must be a str"),
    ],
)
def test_a_bad_conversation_is_named(messages, message):
    with pytest.raises(ValueError, match=message):
        check_conversation(messages)


def test_a_prompt_needs_no_assistant_turn(chars):
    check_conversation(CHAT[:2], prompt=True)
    render_chat(CHAT[:2], chars, add_generation_prompt=True)


# JSONL


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "chats.jsonl"
    write_chats(path, [CHAT, CHAT[1:]])
    assert read_chats(path) == [CHAT, CHAT[1:]]
    assert len(path.read_text().splitlines()) == 2


def test_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text("\n" + json.dumps({"messages": CHAT}) + "\n\n")
    assert read_chats(path) == [CHAT]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"messages": [', "line 2: not valid JSON"),
        ('["not an object"]', "line 2: expected an object"),
        (json.dumps({"messages": [{"role": "bot", "content": "x"}]}), "line 2.*role"),
        (json.dumps({"messages": [{"role": "assistant", "content": ""}]}), "empty"),
        (json.dumps({"messages": CHAT[:2]}), "line 2 has no assistant turn"),
    ],
)
def test_a_bad_jsonl_line_is_named_with_its_number(tmp_path, line, message):
    path = tmp_path / "chats.jsonl"
    path.write_text(json.dumps({"messages": CHAT}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=message) as raised:
        read_chats(path)
    assert str(path) in str(raised.value)


def test_writing_a_bad_conversation_writes_nothing(tmp_path):
    path = tmp_path / "chats.jsonl"
    with pytest.raises(ValueError, match="conversation 2"):
        write_chats(path, [CHAT, [{"role": "user", "content": "Hi"}]])
    assert not path.exists()


# The masked loss


@pytest.fixture
def batch(chars):
    chats = [CHAT, CHAT[1:], [*CHAT, *CHAT[1:]]]
    draw = chat_batches(chats, chars, 64)
    return draw(4, torch.Generator().manual_seed(0))


def test_batches_count_only_the_assistant_tokens(chars, batch):
    x, y = batch
    counted = y[y != IGNORE].tolist()
    assert set(counted) <= set(chars.encode("7")) | {chars.special_id("<|end|>")}
    padding = x == chars.special_id("<|endoftext|>")
    assert (y[padding] == IGNORE).all()


def test_sft_loss_is_a_plain_loop_mean_over_assistant_tokens(chars, batch):
    model = small(chars.vocab_size)
    x, y = batch
    losses = [
        F.cross_entropy(model(x[r : r + 1, : t + 1])[0][0, -1], y[r, t])
        for r in range(len(x))
        for t in range(x.size(1))
        if y[r, t] != IGNORE
    ]
    torch.testing.assert_close(sft_loss(model, batch), torch.stack(losses).mean())


def test_a_user_tokens_target_changes_neither_loss_nor_gradient(chars, batch):
    model = small(chars.vocab_size)
    x, y = batch
    counted = y != IGNORE
    full = torch.where(counted, y, x.roll(-1, 1))
    changed = full.clone()
    changed[0, 2] = (changed[0, 2] + 1) % chars.vocab_size  # inside the user's turn
    assert not counted[0, 2]
    results = []
    for targets in (full, changed):
        model.zero_grad()
        loss = sft_loss(model, (x, torch.where(counted, targets, IGNORE)))
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    (a, grads_a), (b, grads_b) = results
    assert torch.equal(a, b)
    assert all(torch.equal(g, h) for g, h in zip(grads_a, grads_b))


def test_padded_rows_equal_unpadded(chars, batch):
    model = small(chars.vocab_size)
    x, y = batch
    model.zero_grad()
    padded = sft_loss(model, batch)
    padded.backward()
    padded_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    pad = chars.special_id("<|endoftext|>")
    total = 0
    for r in range(len(x)):
        n = int((x[r] != pad).sum())
        row_y = y[r : r + 1, :n]
        total = (
            total + sft_loss(model, (x[r : r + 1, :n], row_y)) * (row_y != IGNORE).sum()
        )
    alone = total / (y != IGNORE).sum()
    alone.backward()
    torch.testing.assert_close(alone, padded)
    for g, h in zip(padded_grads, [p.grad for p in model.parameters()]):
        torch.testing.assert_close(g, h)


def test_sft_loss_trains_with_chapter_9s_loop(chars):
    model = small(chars.vocab_size)
    draw = chat_batches([CHAT], chars, 64)
    recipe = TrainConfig(steps=30, batch_size=4, lr=1e-2, warmup_steps=0,
                         eval_interval=30, eval_batches=1)  # fmt: skip
    state = train(model, make_optimizer(model, recipe), draw, draw, recipe,
                  objective=sft_loss, progress=False)  # fmt: skip
    assert state.history["val_loss"][-1] < 0.1


def test_a_conversation_longer_than_the_context_is_named(chars):
    chat = [
        {"role": "user", "content": "a" * 70},
        {"role": "assistant", "content": "b"},
    ]
    with pytest.raises(
        ValueError, match="conversation 2 takes 75 tokens.*context of 64"
    ):
        chat_batches([CHAT, chat], chars, 64)


def test_no_assistant_turn_in_the_data_is_named(chars):
    with pytest.raises(ValueError, match="conversation 1 has no assistant turn"):
        chat_batches([CHAT[:2]], chars, 64)


# Replies


def test_respond_stops_at_end_and_keeps_everything_in_the_cache(chars):
    model = small(chars.vocab_size)
    end = chars.special_id("<|end|>")
    head = torch.nn.Linear(32, chars.vocab_size)  # <|end|> the likeliest, always
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    with torch.no_grad():
        head.bias[end] = 10.0
    model.lm_head = head
    ids, _ = render_chat(CHAT[:2], chars, add_generation_prompt=True)
    cache = KVCache(len(model.blocks))
    out = respond(model, chars, ids, cache, max_new_tokens=5, greedy=True)
    assert out == [end]  # kept, and the reply stops there
    assert len(cache) == len(ids) + 1


def test_respond_stops_when_the_context_is_full(chars):
    model = small(chars.vocab_size)
    ids = chars.encode("a" * 60)
    cache = KVCache(len(model.blocks))
    generator = torch.Generator().manual_seed(0)
    out = respond(model, chars, ids, cache, max_new_tokens=50, generator=generator)
    assert len(cache) <= 64 and len(cache) == 60 + len(out)


def test_respond_refuses_what_does_not_fit(chars):
    model = small(chars.vocab_size)
    with pytest.raises(ValueError, match="do not fit the context of 64"):
        respond(model, chars, chars.encode("a" * 65), KVCache(len(model.blocks)))


def test_a_multi_turn_chat_matches_one_forward_pass(chars):
    model = small(chars.vocab_size)
    cache = KVCache(len(model.blocks))
    history = []
    for prompt in ("What is 3 plus 4?", "Spell king backwards."):
        turn = [{"role": "user", "content": prompt}]
        new_ids, _ = render_chat(turn, chars, add_generation_prompt=True)
        history += new_ids + respond(model, chars, new_ids, cache, 4, greedy=True)
    assert len(cache) == len(history)
    with torch.no_grad():
        whole = model(torch.tensor([history]))[0]
        again = KVCache(len(model.blocks))
        step = model(torch.tensor([history[:-1]]), cache=again)[0]
    torch.testing.assert_close(step[0, -1], whole[0, -2], rtol=1e-4, atol=1e-4)


def test_roles_are_the_templates_markers():
    assert all(f"<|{role}|>" in SPECIAL_TOKENS for role in ROLES)


def test_respond_refuses_a_bad_temperature(chars):
    model = small(chars.vocab_size)
    ids = chars.encode("abc")
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        respond(model, chars, ids, KVCache(len(model.blocks)), temperature=-1.0)


def test_fit_to_context_checks_the_conversation_first(chars):
    with pytest.raises(ValueError, match="turn 1: each turn is a dict"):
        fit_to_context(["hello"], chars, 64)


# Tokenizer files beside save_pretrained's


@pytest.mark.parametrize("kind", ["chars", "bpe"])
def test_the_tokenizer_files_round_trip(kind, chars, bpe, tmp_path):
    tokenizer = {"chars": chars, "bpe": bpe}[kind]
    save_chat_tokenizer(tokenizer, tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert (
        config["added_tokens_decoder"][str(tokenizer.special_id("<|end|>"))]["content"]
        == "<|end|>"
    )
    assert config["eos_token"] == "<|end|>" and config["chat_template"] == CHAT_TEMPLATE
    loaded = load_chat_tokenizer(tmp_path)
    assert loaded.to_dict() == tokenizer.to_dict()
    assert render_chat(CHAT, loaded) == render_chat(CHAT, tokenizer)


@pytest.mark.parametrize(
    "messages, prompt",
    [(CHAT, False), (CHAT[1:], False), (CHAT[:2], True), (CHAT[1:2], True)],
)
def test_the_jinja_template_renders_what_render_chat_renders(messages, prompt, bpe):
    jinja2 = pytest.importorskip("jinja2.sandbox")
    env = jinja2.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    text = env.from_string(CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=prompt
    )
    ids, _ = render_chat(messages, bpe, add_generation_prompt=prompt)
    assert text == bpe.decode(ids)
    assert bpe.encode(text, allowed_special="all") == ids


def test_tokenizer_files_of_another_template_or_other_ids_are_refused(chars, tmp_path):
    save_chat_tokenizer(chars, tmp_path)
    path = tmp_path / "tokenizer_config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps(config | {"chat_template": "{{ messages }}"}))
    with pytest.raises(ValueError, match="not render_chat's template"):
        load_chat_tokenizer(tmp_path)
    added = {str(int(i) + 1): t for i, t in config["added_tokens_decoder"].items()}
    path.write_text(json.dumps(config | {"added_tokens_decoder": added}))
    with pytest.raises(ValueError, match="must follow the base vocabulary"):
        load_chat_tokenizer(tmp_path)
