"""Tests for gptcore.training and gptcore.checkpoint: the loss gradient, the schedule,
evaluation, the loop, checkpoints, resuming."""

import math
import os
import pickle
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gptcore.checkpoint import (
    CheckpointError,
    config_from_settings,
    load_checkpoint,
    load_model,
    model_for,
    resume_state,
    save_checkpoint,
)
from gptcore.data import CharTokenizer
from gptcore.model import GPT, GPTConfig
from gptcore.training import (
    TrainConfig,
    TrainState,
    default_device,
    estimate_loss,
    lr_at,
    make_optimizer,
    next_token_loss,
    resolve_device,
    train,
    train_step,
    unwrap,
    windows,
)

ROOT = Path(__file__).resolve().parents[2]
TEXT = (
    "To be, or not to be, that is the question:\n"
    "Whether 'tis nobler in the mind to suffer\n" * 20
)
TOKENIZER = CharTokenizer.from_text(TEXT)
DATA = torch.tensor(TOKENIZER.encode(TEXT))


def tiny_config(**overrides) -> GPTConfig:
    return GPTConfig(
        **{
            "vocab_size": TOKENIZER.vocab_size,
            "block_size": 16,
            "n_layer": 2,
            "n_head": 2,
            "n_embd": 16,
            **overrides,
        }
    )


def tiny_run(steps=20, **overrides) -> TrainConfig:
    return TrainConfig(
        **{
            "steps": steps,
            "batch_size": 4,
            "lr": 1e-2,
            "min_lr": 1e-3,
            "warmup_steps": 2,
            "eval_interval": 10,
            "eval_batches": 2,
            **overrides,
        }
    )


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 7, generator=g, requires_grad=True)
    targets = torch.randint(7, (12,), generator=g)
    F.cross_entropy(logits, targets).backward()
    expected = (F.softmax(logits.detach(), -1) - F.one_hot(targets, 7)) / 12
    torch.testing.assert_close(logits.grad, expected)


def test_schedule_warms_up_then_decays_to_the_floor():
    config = TrainConfig(steps=100, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    lrs = [lr_at(step, config) for step in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[100] == pytest.approx(1e-4) and lr_at(500, config) == pytest.approx(1e-4)
    assert lr_at(0, TrainConfig(steps=10, warmup_steps=0)) == pytest.approx(
        TrainConfig().lr
    )


@pytest.mark.parametrize(
    "bad",
    [
        dict(steps=0),
        dict(batch_size=0),
        dict(warmup_steps=20, steps=10),
        dict(min_lr=0.0),
        dict(min_lr=1.0, lr=0.1),
        dict(grad_clip=-1.0),
        dict(eval_interval=0),
    ],
)
def test_train_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_default_device_names_a_usable_device():
    device = default_device()
    assert device in ("cuda", "mps", "cpu")
    torch.zeros(1, device=device)


def test_estimate_loss_is_repeatable_and_restores_the_mode():
    model = GPT(tiny_config(dropout=0.2))
    model.train()
    first = estimate_loss(model, DATA, 16, batch_size=4, batches=3)
    assert estimate_loss(model, DATA, 16, batch_size=4, batches=3) == first
    assert model.training and all(p.grad is None for p in model.parameters())
    model.eval()
    estimate_loss(model, DATA, 16, batch_size=4, batches=3)
    assert not model.training


def test_a_tiny_model_overfits_a_short_text():
    torch.manual_seed(0)
    text = "hello world, hello gpt. "
    tokenizer = CharTokenizer.from_text(text)
    data = torch.tensor(tokenizer.encode(text * 8))
    model = GPT(
        GPTConfig(
            vocab_size=tokenizer.vocab_size,
            block_size=16,
            n_layer=2,
            n_head=2,
            n_embd=32,
        )
    )
    config = TrainConfig(
        steps=150,
        batch_size=16,
        lr=1e-2,
        min_lr=1e-3,
        warmup_steps=10,
        eval_interval=150,
        eval_batches=2,
        weight_decay=0.0,
    )
    state = train(
        model, make_optimizer(model, config), data, data, config, progress=False
    )
    assert state.history["loss"][0] > 2.5
    # After the first characters of a window, the text is fully determined: the loss
    # approaches zero.
    assert state.history["train_loss"][-1] < 0.15


def test_the_loop_records_every_step_and_each_evaluation():
    model = GPT(tiny_config())
    config = tiny_run(steps=25, eval_interval=10)
    calls = []
    state = train(
        model,
        make_optimizer(model, config),
        DATA,
        DATA,
        config,
        progress=False,
        on_eval=lambda s: calls.append(s.step),
    )
    h = state.history
    assert h["step"] == list(range(1, 26)) and len(h["loss"]) == len(h["lr"]) == 25
    assert h["eval_step"] == calls == [10, 20, 25]
    assert h["lr"] == [lr_at(step, config) for step in range(25)]
    assert all(math.isfinite(v) for v in h["loss"] + h["val_loss"])


def test_until_stops_early_and_the_batch_must_divide_among_processes():
    model = GPT(tiny_config())
    config = tiny_run(steps=20)
    state = train(
        model,
        make_optimizer(model, config),
        DATA,
        DATA,
        config,
        until=7,
        progress=False,
    )
    assert state.step == 7 and len(state.history["loss"]) == 7
    with pytest.raises(ValueError, match="cannot be split among 2 processes"):
        train(
            model,
            make_optimizer(model, config),
            DATA,
            DATA,
            tiny_run(batch_size=5),
            progress=False,
            world_size=2,
        )


def test_gradient_clipping_bounds_the_update():
    torch.manual_seed(0)
    model = GPT(tiny_config())
    config = tiny_run(
        steps=1, warmup_steps=0, grad_clip=1e-6, lr=1.0, min_lr=1.0, weight_decay=0.0
    )
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    train(model, optimizer, DATA, DATA, config, progress=False)
    moved = torch.sqrt(
        sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before))
    )
    assert moved.item() <= 1e-6 * 1.01


def trained_tiny(tmp_path, steps=10):
    torch.manual_seed(0)
    model = GPT(tiny_config())
    config = tiny_run(steps=steps)
    optimizer = make_optimizer(model, config)
    state = train(model, optimizer, DATA, DATA, config, progress=False)
    path = save_checkpoint(
        tmp_path / "model.pt", model, TOKENIZER, optimizer, state, config
    )
    return model, optimizer, state, config, path


def test_checkpoint_round_trip(tmp_path):
    model, optimizer, state, config, path = trained_tiny(tmp_path)
    loaded, tokenizer = load_model(path)
    assert (
        not loaded.training
        and tokenizer.vocab == TOKENIZER.vocab
        and loaded.config == model.config
    )
    x = DATA[:16].unsqueeze(0)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0], rtol=0, atol=0)
    twin = GPT(tiny_config())
    twin_optimizer = make_optimizer(twin, config)
    checkpoint = load_checkpoint(path, twin, TOKENIZER, twin_optimizer)
    assert checkpoint["step"] == state.step == 10 and checkpoint[
        "train_config"
    ] == asdict(config)
    assert checkpoint["history"] == state.history
    for a, b in zip(twin.parameters(), model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert twin_optimizer.state_dict()["state"][0]["exp_avg"].equal(
        optimizer.state_dict()["state"][0]["exp_avg"]
    )
    assert (
        resume_state(checkpoint)
        .generator.get_state()
        .equal(state.generator.get_state())
    )


def test_checkpoint_loads_with_weights_only(tmp_path):
    *_, path = trained_tiny(tmp_path, steps=2)
    assert set(torch.load(path, weights_only=True)) >= {
        "model",
        "config",
        "tokenizer",
        "optimizer",
        "step",
        "rng",
    }


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(
    tmp_path, monkeypatch
):
    model, optimizer, state, config, path = trained_tiny(tmp_path, steps=2)
    before = path.read_bytes()

    def crash(obj, f):
        Path(f).write_bytes(before[: len(before) // 2])
        raise KeyboardInterrupt  # even an interrupt, not just an error

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, TOKENIZER, optimizer, state, config)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.pt"]


def test_clear_errors_for_bad_checkpoints(tmp_path):
    *_, path = trained_tiny(tmp_path, steps=2)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="is not a checkpoint at all"):
        load_model(garbage)
    incomplete = tmp_path / "incomplete.pt"
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["tokenizer"]
    torch.save(checkpoint, incomplete)
    with pytest.raises(CheckpointError, match="lacks tokenizer"):
        load_checkpoint(incomplete)
    with pytest.raises(
        CheckpointError, match="n_embd=16 in the checkpoint but 32 in the model"
    ):
        load_checkpoint(path, GPT(tiny_config(n_embd=32)))
    with pytest.raises(CheckpointError, match="another vocabulary"):
        load_checkpoint(path, tokenizer=CharTokenizer(TOKENIZER.vocab[::-1]))


class _NotATensor:
    """Stands in for any Python object a pickle may hold."""


def test_a_file_that_is_not_a_checkpoint_gets_one_safe_sentence(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello world\n")
    objects = tmp_path / "objects.pt"
    torch.save({"model": _NotATensor()}, objects)
    pickled = tmp_path / "pickled.pt"
    with open(pickled, "wb") as f:
        pickle.dump({"model": _NotATensor()}, f)
    for path in (text, objects, pickled):
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(path)
        message = str(error.value)
        assert "\n" not in message and "weights_only" not in message
    for path in (objects, pickled):  # refused by the safe load
        with pytest.raises(CheckpointError, match="Python objects besides tensors"):
            load_checkpoint(path)


@pytest.mark.parametrize(
    "text",
    ["hello world\n", '{"corpus": "plays", "sha256": "ab"}\n{"step": 1}\n'],
    ids=["a text file", "a run's log"],
)
def test_a_text_file_is_reported_as_not_a_checkpoint(tmp_path, text):
    path = tmp_path / "model.pt"
    path.write_text(text)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(path)
    assert "is not a checkpoint at all" in str(error.value)
    assert "Python objects" not in str(error.value)


def test_a_folder_is_named_with_the_checkpoints_in_it(tmp_path):
    model = GPT(tiny_config())
    with pytest.raises(IsADirectoryError, match="is a folder, with no .pt file"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path / "tiny.pt", model, TOKENIZER)
    with pytest.raises(IsADirectoryError) as error:
        load_model(tmp_path)
    assert str(error.value) == (
        f"{tmp_path} is a folder: give a checkpoint file in it: {tmp_path / 'tiny.pt'}"
    )


@pytest.mark.parametrize("key", ["config", "train_config"])
def test_bad_settings_in_a_checkpoint_are_checkpoint_errors(tmp_path, key):
    model, *_, path = trained_tiny(tmp_path, steps=2)
    saved = torch.load(path, weights_only=True)

    def edited(settings: object) -> Path:
        changed = tmp_path / "edited.pt"
        torch.save({**saved, key: settings}, changed)
        return changed

    newer = edited({**saved[key], "bogus": 1})
    for load in (lambda p: load_checkpoint(p, model), load_model):
        with pytest.raises(
            CheckpointError,
            match=r"made by a newer gptcore \(unknown settings: bogus\): upgrade",
        ):
            load(newer)
    for load in (load_checkpoint, load_model):
        with pytest.raises(CheckpointError, match="not written by gptcore's save_"):
            load(edited(["not", "a", "dict"]))
    bad_value = {"config": {"n_embd": 0}, "train_config": {"batch_size": 0}}[key]
    with pytest.raises(CheckpointError, match=r"edited.pt has an invalid .*positive"):
        load_model(edited({**saved[key], **bad_value}))
    older = {k: v for k, v in saved[key].items() if k not in ("dtype", "qkv_bias")}
    load_checkpoint(edited(older), model)  # an older file: the defaults fill in


def test_no_config_in_a_checkpoint_is_a_checkpoint_error(tmp_path):
    *_, path = trained_tiny(tmp_path, steps=2)
    torch.save({**torch.load(path, weights_only=True), "config": None}, path)
    with pytest.raises(CheckpointError, match="config is NoneType, not a dict"):
        load_model(path)


def test_a_tokenizer_of_another_type_is_named(tmp_path):
    from gptcore.bpe import BPETokenizer  # chapter 14's

    bpe = BPETokenizer.train(TEXT, 260)
    model = GPT(tiny_config())
    char_file = save_checkpoint(tmp_path / "char.pt", model, TOKENIZER)
    bpe_file = save_checkpoint(tmp_path / "bpe.pt", model, bpe)
    for path, tokenizer in ((char_file, bpe), (bpe_file, TOKENIZER)):
        with pytest.raises(CheckpointError, match="made with another tokenizer"):
            load_checkpoint(path, tokenizer=tokenizer)


def test_a_checkpoint_without_optimizer_cannot_resume(tmp_path):
    model = GPT(tiny_config())
    path = save_checkpoint(tmp_path / "weights.pt", model, TOKENIZER)
    load_model(path)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(
            path, GPT(tiny_config()), optimizer=make_optimizer(model, tiny_run())
        )
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        resume_state(load_checkpoint(path))


def test_resume_is_exact(tmp_path):
    config = tiny_run(steps=24, eval_interval=6)
    torch.manual_seed(3)
    straight = GPT(tiny_config(dropout=0.1))
    straight_state = train(
        straight, make_optimizer(straight, config), DATA, DATA, config, progress=False
    )

    torch.manual_seed(3)
    model = GPT(tiny_config(dropout=0.1))
    optimizer = make_optimizer(model, config)
    state = train(model, optimizer, DATA, DATA, config, until=11, progress=False)
    save_checkpoint(tmp_path / "half.pt", model, TOKENIZER, optimizer, state, config)

    torch.manual_seed(99)
    resumed = GPT(tiny_config(dropout=0.1))
    resumed_optimizer = make_optimizer(resumed, config)
    checkpoint = load_checkpoint(
        tmp_path / "half.pt", resumed, TOKENIZER, resumed_optimizer
    )
    resumed_state = train(
        resumed,
        resumed_optimizer,
        DATA,
        DATA,
        config,
        resume_state(checkpoint),
        progress=False,
    )
    assert resumed_state.history == straight_state.history
    for a, b in zip(resumed.parameters(), straight.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_committed_course_checkpoint():
    path = ROOT / "checkpoints" / "course.pt"
    assert path.stat().st_size < 5e6
    model, tokenizer = load_model(path)
    checkpoint = load_checkpoint(path)
    assert model.config == GPTConfig(
        vocab_size=tokenizer.vocab_size
    )  # the course model: GPTConfig's defaults
    assert checkpoint["step"] == checkpoint["train_config"]["steps"]
    assert checkpoint["history"]["val_loss"][-1] <= 1.95


# The objective and the source of batches (chapter 9, "What to minimise").


def second_half_loss(model, batch):
    """An objective other than the default: the loss on each window's second half."""
    x, y = batch
    logits, _ = model(x)
    half = x.size(1) // 2
    return F.cross_entropy(logits[:, half:].flatten(0, 1), y[:, half:].flatten())


def masked_loss(model, batch):
    """An objective of a three-tensor batch: the loss where the mask is 1."""
    x, y, mask = batch
    logits, _ = model(x)
    losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    return (losses * mask.flatten()).sum() / mask.sum()


def masked_windows(data, block_size):
    """Windows with a mask that keeps every target: three tensors per batch."""
    draw = windows(data, block_size)

    def masked(batch_size, generator):
        x, y = draw(batch_size, generator)
        return x, y, torch.ones_like(y, dtype=torch.float32)

    return masked


def fresh_run(recipe, **kwargs):
    torch.manual_seed(0)
    model = GPT(tiny_config())
    state = train(
        model,
        make_optimizer(model, recipe),
        DATA,
        DATA,
        recipe,
        progress=False,
        **kwargs,
    )
    return model, state


def test_next_token_loss_is_the_models_own_loss():
    model = GPT(tiny_config()).eval()
    batch = windows(DATA, 16)(4, torch.Generator().manual_seed(0))
    assert torch.equal(next_token_loss(model, batch), model(*batch)[1])


def test_windows_draw_get_batchs_windows():
    x, y = windows(DATA, 16)(4, torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])


def test_a_source_of_batches_trains_as_the_token_ids_do():
    recipe = tiny_run(steps=6)
    _, from_ids = fresh_run(recipe)
    torch.manual_seed(0)
    model = GPT(tiny_config())
    source = windows(DATA, 16)
    from_source = train(
        model, make_optimizer(model, recipe), source, source, recipe, progress=False
    )
    assert from_source.history == from_ids.history


def test_a_custom_objective_trains():
    recipe = tiny_run(steps=30, eval_interval=30)
    model, _ = fresh_run(recipe, objective=second_half_loss)
    untrained = GPT(tiny_config())
    measure = dict(block_size=16, batch_size=4, batches=3, objective=second_half_loss)
    assert (
        estimate_loss(model, DATA, **measure)
        < estimate_loss(untrained, DATA, **measure) - 0.5
    )


def test_the_evaluations_measure_the_objective():
    recipe = tiny_run(steps=4, eval_interval=4)
    model, state = fresh_run(recipe, objective=second_half_loss)
    measured = estimate_loss(
        model,
        DATA,
        16,
        batch_size=recipe.batch_size,
        batches=recipe.eval_batches,
        objective=second_half_loss,
    )
    assert state.history["val_loss"][-1] == measured


def test_grad_accumulation_slices_every_tensor_of_the_batch():
    source = masked_windows(DATA, 16)
    models = []
    for grad_accum in (1, 4):
        torch.manual_seed(0)
        model = GPT(tiny_config())
        recipe = tiny_run(steps=3, batch_size=8, grad_accum=grad_accum)
        optimizer = make_optimizer(model, recipe)
        options = dict(objective=masked_loss, progress=False)
        train(model, optimizer, source, source, recipe, **options)
        models.append(model)
    whole, sliced = models
    for name, p in whole.named_parameters():
        torch.testing.assert_close(dict(sliced.named_parameters())[name], p)


def test_train_step_takes_the_objective_and_a_batch():
    model = GPT(tiny_config())
    optimizer = make_optimizer(model, tiny_run())
    batch = masked_windows(DATA, 16)(4, torch.Generator().manual_seed(0))
    loss = train_step(model, optimizer, batch, 1e-3, objective=masked_loss)
    assert loss.shape == () and torch.isfinite(loss)


def test_resume_with_an_objective_is_exact(tmp_path):
    recipe = tiny_run(steps=8, eval_interval=4)
    _, straight = fresh_run(recipe, objective=second_half_loss)
    torch.manual_seed(0)
    model = GPT(tiny_config())
    optimizer = make_optimizer(model, recipe)
    half = dict(objective=second_half_loss, progress=False)
    state = train(model, optimizer, DATA, DATA, recipe, until=4, **half)
    save_checkpoint(tmp_path / "half.pt", model, TOKENIZER, optimizer, state, recipe)
    model = GPT(tiny_config())
    optimizer = make_optimizer(model, recipe)
    checkpoint = load_checkpoint(tmp_path / "half.pt", model, TOKENIZER, optimizer)
    state = train(
        model, optimizer, DATA, DATA, recipe, resume_state(checkpoint), **half
    )
    assert state.history == straight.history


def test_a_model_without_a_config_trains_from_a_source_of_batches():
    model = torch.nn.Linear(3, 1)
    recipe = tiny_run(steps=2, eval_interval=2, eval_batches=1)

    def draw(batch_size, generator):
        return (torch.randn(batch_size, 3, generator=generator),)

    def objective(model, batch):
        return model(batch[0]).pow(2).mean()

    state = train(
        model,
        make_optimizer(model, recipe),
        draw,
        draw,
        recipe,
        objective=objective,
        progress=False,
    )
    assert state.step == 2 and len(state.history["val_loss"]) == 1


def test_unwrap_returns_the_module_inside_a_wrapper():
    model = GPT(tiny_config())
    wrapper = torch.nn.Module()
    wrapper.module = model
    assert unwrap(wrapper) is model and unwrap(model) is model


@pytest.mark.parametrize(
    "value, error", [("1e-3", TypeError), (True, TypeError), (math.inf, ValueError)]
)
def test_the_recipe_refuses_a_rate_that_is_no_finite_number(value, error):
    with pytest.raises(error, match="TrainConfig.lr must be a"):
        TrainConfig(lr=value)


def test_resolve_device_accepts_a_numbered_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("cuda:1") == "cuda:1"


def test_resolve_device_without_cuda_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="PyTorch sees no cuda device"):
        resolve_device("cuda:1")


def test_plain_settings_give_chapter_8s_config_and_model():
    config = config_from_settings(asdict(tiny_config()))
    assert type(config) is GPTConfig and type(model_for(config)) is GPT


def test_train_state_starts_from_the_seed():
    a, b = TrainState.start(5), TrainState.start(5)
    assert torch.equal(a.generator.get_state(), b.generator.get_state())
