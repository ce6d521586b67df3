"""Device and precision selection."""

from __future__ import annotations

import contextlib
import warnings

import torch

__all__ = ["autocast_context", "compile_options", "cpu_has_bf16", "cpu_name", "resolve_device",
           "resolve_precision", "torch_threads"]


def compile_options(compile) -> dict | None:
    """The ``torch.compile`` keyword arguments a ``compile`` setting asks for: None (do not
    compile) for False, ``{}`` for True, a dict as given."""
    if not isinstance(compile, bool | dict):
        raise TypeError(f"compile={compile!r} is not allowed; use True, False or a dict of "
                        f"torch.compile keyword arguments.")
    if not compile:
        return None
    return dict(compile) if isinstance(compile, dict) else {}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:0' or 'mps'."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='auto'.")
    return resolved


def _cpu_bf16_works() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.ones(2, 2) @ torch.ones(2, 2)
        return True
    except RuntimeError:
        return False


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware: on x86, avx512_bf16 or AMX. Without
    either, torch emulates bf16 products hundreds of times slower than fp32 (AVX2-only AMD
    EPYC: benchmarks/RESULTS.md, "Tiny Shakespeare ... (AMD EPYC)"). Other architectures
    (and a torch without these probes) are taken to have it."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "i386", "x86"):
        return True
    probes = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(probe is None for probe in probes):
        return True
    return any(probe() for probe in probes)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"``: bf16 on CUDA cards that support it, else fp32. ``"bf16"`` falls back to fp32,
    with a warning, where bf16 autocast does not work, and on an x86 CPU without bf16
    instructions (avx512_bf16 or AMX), where it works hundreds of times slower than fp32."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(
            f"precision={precision!r} is not allowed; choose 'auto', 'bf16' or 'fp32'."
        )
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    elif device.type == "cpu":
        supported = _cpu_bf16_works()
    else:
        supported = False
    if precision == "auto":
        return "bf16" if device.type == "cuda" and supported else "fp32"
    if precision == "bf16" and not supported:
        warnings.warn(f"bf16 autocast is not supported on {device}; training in fp32.",
                      stacklevel=3)
        return "fp32"
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        warnings.warn("precision='bf16' on a CPU without bf16 instructions (avx512_bf16 or "
                      "AMX): torch would emulate it, hundreds of times slower than fp32; "
                      "training in fp32. Pass precision='fp32' (or 'auto') to silence this.",
                      stacklevel=3)
        return "fp32"
    return precision


def autocast_context(device: torch.device, precision: str):
    """Autocast to bf16 where asked; for fp32 a null context (no per-batch autocast cost)."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (``platform.processor()`` elsewhere)."""
    import platform
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Inside the block torch uses ``n`` intra-op threads (None: unchanged); restored after."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)

