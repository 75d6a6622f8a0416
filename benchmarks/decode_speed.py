"""Decoding speed against the memory limit: gptcore float32, gptcore int8 and
transformers' generate on the same random GPT-2-small-sized weights, batch 1, 128 new
tokens after a 64-token prompt.

Run by hand (never in CI):

    python benchmarks/decode_speed.py                 # all cores
    OMP_NUM_THREADS=1 python benchmarks/decode_speed.py --repeats 5

Generating one token reads every weight once, so no implementation beats
bandwidth / bytes-per-token tokens per second. The script measures this machine's
bandwidth (a matrix-vector product on a float32 matrix far larger than any cache, the
operation that decoding is made of) and prints each speed as a share of its limit.

The rows:

* gptcore float32: chapter 10's `generate` with the KV cache, greedy.
* gptcore int8 (PyTorch dynamic): the same model after
  `torch.ao.quantization.quantize_dynamic` on every `nn.Linear` (PyTorch's own int8
  kernels: fbgemm on x86, qnnpack on ARM; int8 weights, activations quantized per
  token). The fastest int8 path in the pinned PyTorch. PyTorch 2.13 marks
  `torch.ao.quantization` as deprecated (to be removed; its replacement is the torchao
  package, which this project does not install), so its warnings are silenced here.
* gptcore int8 / int4 (weight-only kernel): chapter 19's `quantize_model` and
  `use_kernels`, which hand the same integers and scales to the kernels that stay in
  PyTorch and that torchao calls on a CPU, `torch._weight_int8pack_mm` and
  `torch._weight_int4pack_mm_for_cpu` (bfloat16 activations). The int4 row keeps the
  head in int8: its 50,257 outputs are not a multiple of 16, as the int4 kernel needs.
  These kernels are ATen vector code: with ATEN_CPU_CAPABILITY=default they are
  several times slower than float32.
* gptcore int8 (chapter 19): chapter 19's `quantize_model` alone, which dequantizes
  each weight for every forward: it saves memory, not time.
* transformers float32: `GPT2LMHeadModel.generate` on the same weights
  (`gptcore.gpt2.to_huggingface`), greedy, with its cache.

The last column says whether a row's greedy tokens are transformers' (the float32 rows
must agree; the int8 ones round the weights). Medians of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings

import torch
from torch import nn

from gptcore.generation import generate
from gptcore.gpt2 import gpt2_config, to_huggingface
from gptcore.inference import KernelLinear, QuantizedLinear, quantize_model, use_kernels
from gptcore.model import GPT

PROMPT, NEW = 64, 128


def bandwidth(repeats: int) -> float:
    """Bytes per second that a float32 matrix-vector product streams (512 MiB)."""
    matrix = torch.randn(8192, 16384)
    vector = torch.randn(16384)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        matrix @ vector
        times.append(time.perf_counter() - start)
    return matrix.numel() * 4 / statistics.median(times[1:])


def weight_bytes(model: nn.Module) -> int:
    """The bytes one token reads: every parameter and buffer once (int8 packed weights
    of a dynamic quantized Linear at one byte each)."""
    total = sum(t.numel() * t.element_size() for t in model.parameters())
    total += sum(t.numel() * t.element_size() for t in model.buffers())
    for module in model.modules():
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
            bias = module.bias()
            total += module.weight().numel() + (0 if bias is None else bias.numel() * 4)
    # the position and token embeddings: one row each per token, not the whole table
    embed = model.embed if hasattr(model, "embed") else None
    if embed is not None and not _tied(model):
        total -= embed.token.weight.numel() * 4
    if embed is not None:
        total -= embed.position.weight.numel() * 4
    return total


def _tied(model: nn.Module) -> bool:
    """Whether the head reads the token embedding's table (then it is read anyway)."""
    head = getattr(model, "lm_head", None)
    return isinstance(head, nn.Linear) and head.weight is model.embed.token.weight


def timed(run, repeats: int) -> tuple[float, torch.Tensor]:
    """The median seconds of run() over repeats (after one warm-up), and its output."""
    out = run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = GPT(gpt2_config("small")).eval()
    prompt = torch.randint(0, model.config.vocab_size, (1, PROMPT))
    with warnings.catch_warnings():  # torch.ao.quantization: deprecated in 2.13
        warnings.simplefilter("ignore")
        dynamic = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8
        )
    ours = quantize_model(copy.deepcopy(model), bits=8)
    kernel8 = use_kernels(quantize_model(copy.deepcopy(model), bits=8))
    kernel4 = use_kernels(quantize_model(copy.deepcopy(model), bits=4, group_size=32))
    kernel4.lm_head = KernelLinear(QuantizedLinear(model.lm_head, bits=8))
    hf = to_huggingface(model)

    def ours_generate(m: nn.Module):
        return lambda: generate(m, prompt, NEW, temperature=0, use_cache=True)

    def hf_generate():
        with torch.no_grad():
            return hf.generate(
                prompt, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False,
                pad_token_id=0, attention_mask=torch.ones_like(prompt),
            )  # fmt: skip

    rows = {  # transformers first: every row is compared with it
        "transformers float32": (hf_generate, model),
        "gptcore float32": (ours_generate(model), model),
        "gptcore int8 (PyTorch dynamic)": (ours_generate(dynamic), dynamic),
        "gptcore int8 (weight-only kernel)": (ours_generate(kernel8), kernel8),
        "gptcore int4 (weight-only kernel, groups of 32)": (
            ours_generate(kernel4),
            kernel4,
        ),
        "gptcore int8 (chapter 19)": (ours_generate(ours), ours),
    }
    rate = bandwidth(args.repeats)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{torch.backends.cpu.get_cpu_capability()}; batch 1, "
        f"{NEW} new tokens after {PROMPT}; matrix-vector bandwidth "
        f"{rate / 1e9:.1f} GB/s; medians of {args.repeats}"
    )
    print("| implementation | tokens/s | bytes/token | limit tokens/s | share of limit "
          "| vs transformers | same tokens |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    speeds, outputs = {}, {}
    for name, (run, weights) in rows.items():
        seconds, outputs[name] = timed(run, args.repeats)
        speeds[name] = NEW / seconds
        per_token = weight_bytes(weights)
        limit = rate / per_token
        same = torch.equal(outputs[name], outputs["transformers float32"])
        print(
            f"| {name} | {speeds[name]:.1f} | {per_token / 1e6:.0f} MB | {limit:.1f} "
            f"| {speeds[name] / limit:.0%} "
            f"| {speeds[name] / speeds['transformers float32']:.2f}x | {same} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
