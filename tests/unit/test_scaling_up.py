"""Gradient accumulation (one process and two gloo processes), mixed precision on the
CPU, and the checkpoint checks that name a mismatched tensor."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from gptcore.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
    save_checkpoint,
    tokenizer_from_dict,
)
from gptcore.data import CharTokenizer
from gptcore.model import GPT, GPTConfig
from gptcore.training import TrainConfig, make_optimizer, train

TEXT = (
    "To be, or not to be, that is the question:\n"
    "Whether 'tis nobler in the mind to suffer\n" * 20
)
TOKENIZER = CharTokenizer.from_text(TEXT)
DATA = torch.tensor(TOKENIZER.encode(TEXT))
CONFIG = GPTConfig(
    vocab_size=TOKENIZER.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16
)


def recipe(**changes) -> TrainConfig:
    settings = dict(
        steps=6, batch_size=8, warmup_steps=1, eval_interval=3, eval_batches=2
    )
    return TrainConfig(**{**settings, **changes})


def run(config: TrainConfig, model: torch.nn.Module | None = None, **kwargs):
    torch.manual_seed(0)
    model = model if model is not None else GPT(CONFIG)
    core = getattr(model, "module", model)
    state = train(
        model,
        make_optimizer(core, config),
        DATA,
        DATA,
        config,
        progress=False,
        **kwargs,
    )
    return state.history["loss"], core.state_dict()


def assert_same_run(a, b, tolerance=1e-5):
    torch.testing.assert_close(
        torch.tensor(a[0]), torch.tensor(b[0]), rtol=0, atol=tolerance
    )
    for name in a[1]:
        torch.testing.assert_close(a[1][name], b[1][name], rtol=0, atol=tolerance)


def test_accumulated_micro_batches_step_as_one_big_batch():
    whole = run(recipe())
    for grad_accum in (2, 4, 8):
        assert_same_run(run(recipe(grad_accum=grad_accum)), whole)


def test_the_batch_must_cut_into_equal_micro_batches():
    with pytest.raises(ValueError, match="multiple of grad_accum"):
        recipe(grad_accum=3)
    with pytest.raises(ValueError, match="grad_accum must be a positive"):
        recipe(grad_accum=0)
    with pytest.raises(ValueError, match="multiple of 4"):
        run(recipe(batch_size=6, grad_accum=2), rank=0, world_size=2)


def _ddp_worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        model = DistributedDataParallel(GPT(CONFIG))
        losses, weights = run(recipe(grad_accum=2), model, rank=rank, world_size=2)
        torch.save({"losses": losses, "weights": weights}, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_with_accumulation_match_one_process(tmp_path):
    """2 processes x 2 micro-batches of 2 windows: one batch of 8, step for step; the
    no_sync micro-steps leave the processes' copies identical."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(
        _ddp_worker, args=(port, str(tmp_path)), nprocs=2, start_method="spawn"
    )
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for name in ranks[0]["weights"]:
        assert torch.equal(ranks[0]["weights"][name], ranks[1]["weights"][name])
    whole = run(recipe())
    assert_same_run((ranks[0]["losses"], ranks[0]["weights"]), whole)


def test_bfloat16_tracks_float32_on_the_cpu():
    full = run(recipe(steps=30, eval_interval=30))
    half = run(recipe(steps=30, eval_interval=30, dtype="bfloat16"))
    assert half[0] != full[0]  # it did compute in bfloat16
    gap = max(abs(a - b) for a, b in zip(half[0], full[0]))
    assert gap < 0.05, gap


def test_float16_uses_a_grad_scaler(monkeypatch):
    scales = []
    original = torch.amp.GradScaler.update

    def update(self, *args, **kwargs):
        scales.append(self.get_scale())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.amp.GradScaler, "update", update)
    losses, _ = run(recipe(dtype="float16"))
    assert len(scales) == 6 and all(s > 1 for s in scales)
    assert all(torch.isfinite(torch.tensor(losses)))


def test_a_bad_dtype_is_named():
    with pytest.raises(ValueError, match="one of float32, bfloat16, float16"):
        recipe(dtype="half")


def test_weights_that_disagree_with_their_config_name_the_tensor(tmp_path):
    torch.manual_seed(0)
    model = GPT(CONFIG)
    path = save_checkpoint(tmp_path / "m.pt", model, TOKENIZER)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["config"]["n_embd"] = 24
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(
        CheckpointError, match=r"has shape \(\d+, 16\) in the file, but"
    ):
        load_model(tmp_path / "bad.pt")
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["model"]["lm_head.weight"]
    torch.save(checkpoint, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "missing.pt", GPT(CONFIG))


def test_an_unknown_tokenizer_type_is_named():
    with pytest.raises(CheckpointError, match="unknown tokenizer type 'wordpiece'"):
        tokenizer_from_dict({"type": "wordpiece"})
    assert tokenizer_from_dict(TOKENIZER.to_dict()).vocab == TOKENIZER.vocab
