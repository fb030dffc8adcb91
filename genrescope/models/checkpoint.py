"""Read weights files safely and load them strictly, with clear errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from ..errors import GenrescopeError


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``model.safetensors`` or a plain ``state_dict`` saved by torch.

    ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``: a
    pickle that would run code is refused, never executed.

    Raises
    ------
    GenrescopeError
        The file is missing, damaged, not a state_dict, or holds code.
    """
    path = Path(path)
    if not path.is_file():
        raise GenrescopeError(f"Weights file {path} does not exist.", status=404)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise GenrescopeError(
                f"{path} is not a readable safetensors file ({exc}); it may be truncated: "
                "download or export it again.") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GenrescopeError(
            f"Refused to load {path}: it is not a plain tensor checkpoint (loading it "
            "would run code or build arbitrary objects, which genrescope never does). "
            "Only state_dicts of tensors are accepted; re-save it with "
            "torch.save(model.state_dict(), ...) or convert it to safetensors.") from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise GenrescopeError(
            f"{path} is damaged or not a torch checkpoint ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}); "
            "it may be truncated: download it again.") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GenrescopeError(f"{path} does not hold a state_dict of tensors.")
    return state


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], path: str | Path,
                what: str = "this model") -> None:
    """Copy ``state`` into ``module``; every key and shape must match.

    Raises
    ------
    GenrescopeError
        Naming the missing and unexpected keys, or the keys whose shapes differ
        (a checkpoint for another architecture or label count).
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise GenrescopeError(
            f"{path} does not fit {what}: "
            f"{len(missing)} missing keys{_some(missing)}; "
            f"{len(unexpected)} unexpected keys{_some(unexpected)}. "
            "It is a checkpoint of another architecture, or damaged.")
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
             for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        raise GenrescopeError(
            f"{path} does not fit {what}: {len(wrong)} tensors have other shapes"
            f"{_some(wrong)}. It was trained for another architecture or label count; "
            "its config.json must say which.")
    module.load_state_dict(state, strict=True)


def _some(items: list, n: int = 4) -> str:
    if not items:
        return ""
    more = f", ... ({len(items) - n} more)" if len(items) > n else ""
    return " (" + ", ".join(items[:n]) + more + ")"
