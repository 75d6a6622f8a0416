"""Preferences and rewards (chapter 17): batched group sampling, answer
log-probabilities, DPO and GRPO's losses against plain loops, and every bad input."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gptcore
from gptcore.chat import IGNORE, add_special_tokens, respond
from gptcore.chat_tasks import check_answer
from gptcore.generation import KVCache
from gptcore.preferences import (
    GroupSampler,
    answer_rows,
    check_beta,
    dpo_loss,
    group_advantages,
    grpo_loss,
    pass_at_k,
    preference_batches,
    prompt_ids,
    read_jsonl,
    sample_batch,
    score_answer,
    sequence_logprobs,
    token_logprobs,
)

CHAT_PT = Path(__file__).parents[2] / "checkpoints" / "chat.pt"
PAIRS = [
    {"prompt": "First letter of crown?", "chosen": "c", "rejected": "r"},
    {"prompt": "Spell ghost backwards.", "chosen": "tsohg", "rejected": "ghost"},
    {"prompt": "What is 3 plus 4?", "chosen": "7", "rejected": "8"},
]


@pytest.fixture(scope="module")
def chat():
    model, tokenizer = gptcore.load_model(CHAT_PT)
    return model, tokenizer


def plain_logprob(model, prompt, answer) -> torch.Tensor:
    found = torch.zeros(())
    for t in range(len(answer)):
        logits, _ = model(torch.tensor([prompt + answer[:t]]))
        found += logits[0, -1].log_softmax(-1)[answer[t]]
    return found


def test_a_greedy_group_is_the_answer_alone(chat):
    model, tok = chat
    ids = prompt_ids(tok, "Spell crown backwards.")
    alone = respond(model, tok, ids, KVCache(len(model.blocks)), 16, greedy=True)
    group = sample_batch(model, tok, [ids] * 4, 16, greedy=True)
    assert group == [alone] * 4


def test_one_generator_per_row_draws_as_alone(chat):
    model, tok = chat
    ids = prompt_ids(tok, "How many e in there?")
    gens = [torch.Generator().manual_seed(s) for s in range(6)]
    group = sample_batch(model, tok, [ids] * 6, 20, temperature=2.0, generator=gens)
    for s, row in enumerate(group):
        one = torch.Generator().manual_seed(s)
        cache = KVCache(len(model.blocks))
        assert row == respond(model, tok, ids, cache, 20, 2.0, generator=one)


def test_a_row_stops_at_its_own_end(chat):
    model, tok = chat
    end = tok.special_id("<|end|>")
    ids = prompt_ids(tok, "How many e in there?")
    gen = torch.Generator().manual_seed(0)
    rows = sample_batch(model, tok, [ids] * 16, 5, temperature=3.0, generator=gen)
    for row in rows:
        assert 1 <= len(row) <= 5 and end not in row[:-1]


def test_sample_batch_refuses_bad_prompts(chat):
    model, tok = chat
    with pytest.raises(ValueError, match="of one length"):
        sample_batch(model, tok, [[1, 2], [3]])
    with pytest.raises(ValueError, match="of one length"):
        sample_batch(model, tok, [])
    with pytest.raises(ValueError, match="fill the context"):
        sample_batch(model, tok, [[1] * model.config.block_size])
    with pytest.raises(ValueError, match="one per row"):
        sample_batch(model, tok, [[1, 2]] * 3, generator=[torch.Generator()] * 2)


def test_sequence_logprobs_equal_a_plain_loop(chat):
    model, tok = chat
    end = tok.special_id("<|end|>")
    prompts = [prompt_ids(tok, p["prompt"]) for p in PAIRS]
    answers = [tok.encode(p["chosen"]) + [end] for p in PAIRS]
    x, y = answer_rows(prompts, answers, 0, model.config.block_size)
    assert ((y != IGNORE).sum(1) == torch.tensor([len(a) for a in answers])).all()
    with torch.no_grad():
        total = sequence_logprobs(model, x, y)
        mean = sequence_logprobs(model, x, y, mean=True)
        loop = torch.stack(
            [plain_logprob(model, p, a) for p, a in zip(prompts, answers)]
        )
        assert (token_logprobs(model, x, y)[y == IGNORE] == 0).all()
    torch.testing.assert_close(total, loop)
    torch.testing.assert_close(mean, loop / torch.tensor([len(a) for a in answers]))


def test_answer_rows_refuse_bad_rows():
    with pytest.raises(ValueError, match="2 prompts for 1 answers"):
        answer_rows([[1], [2]], [[3]], 0, 8)
    with pytest.raises(ValueError, match="a token each"):
        answer_rows([[1]], [[]], 0, 8)
    with pytest.raises(ValueError, match="more than the context"):
        answer_rows([[1] * 6], [[2] * 4], 0, 8)


def test_dpo_loss_equals_a_per_pair_loop(chat):
    model, tok = chat
    end = tok.special_id("<|end|>")
    policy = gptcore.load_model(CHAT_PT)[0]
    with torch.no_grad():  # move the policy away from the reference
        for w in policy.parameters():
            w += 0.01 * torch.randn(w.shape, generator=torch.Generator().manual_seed(0))
    batch = preference_batches(PAIRS, tok, model)(5, torch.Generator().manual_seed(2))
    picked = torch.randint(3, (5,), generator=torch.Generator().manual_seed(2))
    loss = dpo_loss(policy, batch, beta=0.5)
    losses = []
    for i in picked.tolist():
        p = prompt_ids(tok, PAIRS[i]["prompt"])
        c, r = (tok.encode(PAIRS[i][k]) + [end] for k in ("chosen", "rejected"))
        with torch.no_grad():
            ref = plain_logprob(model, p, c) - plain_logprob(model, p, r)
        now = plain_logprob(policy, p, c) - plain_logprob(policy, p, r)
        losses.append(-F.logsigmoid(0.5 * (now - ref)))
    torch.testing.assert_close(loss, torch.stack(losses).mean())


def test_dpo_starts_at_log_2_and_its_step_raises_the_margin(chat):
    model, tok = chat
    policy = gptcore.load_model(CHAT_PT)[0]
    batch = preference_batches(PAIRS, tok, model)(3, torch.Generator().manual_seed(0))
    loss = dpo_loss(policy, batch)
    assert abs(loss.item() - math.log(2)) < 1e-4
    loss.backward()
    with torch.no_grad():
        for w in policy.parameters():
            w -= 1e-3 * w.grad
    assert dpo_loss(policy, batch).item() < loss.item()


@pytest.mark.parametrize("beta", [0.0, -1.0, float("inf"), float("nan")])
def test_beta_must_be_finite_and_positive(beta):
    with pytest.raises(ValueError, match="beta"):
        check_beta(beta)


def test_preference_batches_refuse_bad_pairs(chat):
    model, tok = chat
    same = {"prompt": "First letter of crown?", "chosen": "c", "rejected": "c"}
    with pytest.raises(ValueError, match="pair 2: the chosen and the rejected"):
        preference_batches([PAIRS[0], same], tok, model)
    with pytest.raises(ValueError, match="pair 1: expected strings"):
        preference_batches([{"prompt": "x", "chosen": "c"}], tok, model)
    grown = gptcore.load_model(CHAT_PT)[0]
    add_special_tokens(grown, 1)
    with pytest.raises(ValueError, match="vocabulary of 82, the tokenizer 81"):
        preference_batches(PAIRS, tok, grown)


def test_group_advantages():
    a = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    torch.testing.assert_close(a[0].mean(), torch.tensor(0.0))
    assert (a[0] > 0).tolist() == [True, False, False, True]
    assert (a[1] == 0).all()  # equal rewards: no advantage
    with pytest.raises(ValueError, match="group of 2 or more"):
        group_advantages(torch.ones(3, 1))


def test_grpo_loss_equals_a_plain_loop(chat):
    model, tok = chat
    gen = torch.Generator().manual_seed(1)
    ids = prompt_ids(tok, "How many e in there?")
    answers = sample_batch(model, tok, [ids] * 4, 6, 2.0, generator=gen)
    x, y = answer_rows([ids] * 4, answers, 0, model.config.block_size)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    with torch.no_grad():
        now = token_logprobs(model, x, y)
    old = now + 0.3 * torch.randn(now.shape, generator=gen) * (y != IGNORE)
    ref = now - 0.1 * (y != IGNORE)
    loss = grpo_loss(model, (x, y, adv, old, ref), clip=0.2, kl=0.3)
    total = 0.0
    for b, a in enumerate(answers):
        terms = []
        for t in range(len(a)):
            logits, _ = model(torch.tensor([ids + a[:t]]))
            new = logits[0, -1].log_softmax(-1)[a[t]]
            o, r = old[b, len(ids) - 1 + t], ref[b, len(ids) - 1 + t]
            ratio = torch.exp(new - o)
            gain = min(ratio * adv[b], ratio.clamp(0.8, 1.2) * adv[b])
            terms.append(gain - 0.3 * (torch.exp(r - new) - (r - new) - 1))
        total = total + torch.stack(terms).mean()
    torch.testing.assert_close(loss, -total / 4)


def test_score_answer(chat):
    _, tok = chat
    end = tok.special_id("<|end|>")
    q = "First letter of crown?"
    assert score_answer(check_answer, q, tok.encode("c") + [end], tok) == 1.0
    assert score_answer(check_answer, q, tok.encode("c"), tok) == 0.0  # no <|end|>
    assert score_answer(check_answer, q, tok.encode("c or r") + [end], tok) == 0.0

    def fragile(prompt, answer):
        raise RuntimeError("cannot parse")

    with pytest.warns(UserWarning, match="the checker raised"):
        assert score_answer(fragile, q, tok.encode("c") + [end], tok) == 0.0


def test_group_sampler(chat):
    model, tok = chat
    prompts = ["First letter of crown?", "What is 3 plus 4?"]
    with pytest.raises(ValueError, match="group_size must be 2 or more"):
        GroupSampler(model, tok, prompts, check_answer, group_size=1)
    with pytest.raises(ValueError, match="no prompts"):
        GroupSampler(model, tok, [], check_answer)
    sampler = GroupSampler(model, tok, prompts, check_answer, 4, reference=model)
    with pytest.raises(ValueError, match="not a multiple of group_size=4"):
        sampler(6, torch.Generator())
    x, y, adv, old, ref = sampler(8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == old.shape == ref.shape and adv.shape == (8,)
    assert len(sampler.rewards) == 1 and 0 <= sampler.rewards[0] <= 1
    torch.testing.assert_close(old, ref)  # the reference is the policy here


def test_pass_at_k():
    assert pass_at_k(8, 0, 8) == 0.0 and pass_at_k(8, 1, 8) == 1.0
    assert abs(pass_at_k(8, 2, 1) - 0.25) < 1e-12
    assert abs(pass_at_k(4, 1, 2) - 0.5) < 1e-12
    with pytest.raises(ValueError, match="1 <= k <= n"):
        pass_at_k(4, 1, 5)


def test_read_jsonl_names_the_bad_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    good = json.dumps(PAIRS[0])
    path.write_text(good + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: not valid JSON"):
        read_jsonl(path, ("prompt", "chosen", "rejected"))
    path.write_text(good + "\n" + json.dumps({"prompt": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: expected an object"):
        read_jsonl(path, ("prompt", "chosen", "rejected"))
    path.write_text(good + "\n", encoding="utf-8")
    assert read_jsonl(path, ("prompt", "chosen", "rejected")) == [PAIRS[0]]
