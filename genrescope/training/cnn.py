"""The ``cnn`` method: the ccmusic-database recipe, a VGG on spectrogram
images, resumable through ``DIR/checkpoint.pt``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GenrescopeError
from ..features import ImageSpec, image_features, normalise_pixels
from ..files import replaced_atomically
from ..track import clips_scores
from .common import (FeatureCache, TrainResult, class_weights, extract_features,
                     final_report, split_arrays, training_info,
                     write_bundle)
from .finetune import init_network, read_init

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "genrescope-train-1"
CNN_DEFAULTS = {"arch": "vgg19_bn", "representation": "cqt", "epochs": 40, "batch_size": 8,
                "lr": 1e-3, "momentum": 0.9, "plateau_factor": 0.1, "plateau_patience": 5}


def to_uint8(inputs: torch.Tensor, spec: ImageSpec) -> np.ndarray:
    """Undo the normalisation of :func:`~genrescope.features.image_tensor`:
    the resized RGB pixels, exactly (they were integers)."""
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    pixels = (inputs * std + mean) * 255.0
    return pixels.round().clamp(0, 255).to(torch.uint8).numpy()


def from_uint8(pixels: torch.Tensor, spec: ImageSpec) -> torch.Tensor:
    """The network input for cached pixels: the front end's own
    :func:`~genrescope.features.normalise_pixels`, so the same floats."""
    return normalise_pixels(pixels, spec)



def image_arrays(items, spec: ImageSpec, duration_s, cache_root, progress):
    """Network input pixels (n_chunks, 3, size, size) uint8 of each file, cached."""
    from ..audio import load_audio

    cache = FeatureCache(cache_root, "images", {"spec": spec.to_dict()})

    def compute(path):
        audio = load_audio(path, spec.sr, duration_s=duration_s)
        return to_uint8(image_features(audio.y, spec).inputs, spec)

    arrays, kept, skipped = extract_features(items, cache, compute, duration_s, progress, "images")
    return arrays, kept, skipped, cache


def cnn_setup(arch, init, representation, image_spec, models_dir):
    """Architecture, image spec and init checkpoint from the options."""
    from ..models.vgg import PLANS

    init_ck = read_init(init, arch, models_dir) if init else None
    arch = arch or (init_ck.arch if init_ck else CNN_DEFAULTS["arch"])
    if arch not in PLANS:
        raise GenrescopeError(f"--arch must be one of {', '.join(PLANS)}, not {arch!r}.")
    rep = dict(init_ck.representation or {}) if init_ck else {}
    if representation:
        if rep.get("type", representation) != representation:
            raise GenrescopeError(f"--init {init} was trained on {rep['type']} images; "
                                  f"fine-tune it on those (leave out --representation).")
        rep["type"] = representation
    rep.setdefault("type", CNN_DEFAULTS["representation"])
    rep.update(image_spec)
    try:
        spec = ImageSpec.from_dict(rep)
    except (TypeError, ValueError) as exc:
        raise GenrescopeError(f"Bad image representation {rep}: {exc}") from exc
    return arch, spec, init_ck


def load_checkpoint(path: Path, run: dict) -> dict:
    """Read ``checkpoint.pt`` (tensors and plain values only) of the same run."""
    import pickle

    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise GenrescopeError(f"{path} is damaged or not a genrescope training checkpoint "
                              f"({exc.__class__.__name__}); delete it to start over.") from exc
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise GenrescopeError(f"{path} is not a genrescope training checkpoint; delete it or "
                              "choose another --out.")
    saved = json.loads(ck["run"])
    if saved != run:
        differ = sorted(k for k in set(saved) | set(run) if saved.get(k) != run.get(k))
        raise GenrescopeError(
            f"{path} belongs to another training run (it differs in: {', '.join(differ)}). "
            "Give the same data and options to resume it, or choose another --out (or delete "
            "the checkpoint) to start over.")
    return ck


def save_checkpoint(path: Path, **values) -> None:
    with replaced_atomically(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **values}, tmp)


def train_cnn(*, data, out, train_items, val_items, seed, device, duration_s, epochs,
              batch_size, cache_root, progress, on_epoch, arch, init, representation,
              image_spec, models_dir, val_split) -> TrainResult:
    from tqdm import tqdm

    from ..models.vgg import VGG

    arch, spec, init_ck = cnn_setup(arch, init, representation, image_spec, models_dir)
    hp = dict(CNN_DEFAULTS)
    epochs = epochs or hp["epochs"]
    batch_size = batch_size or hp["batch_size"]
    labels = sorted({i.label for i in train_items})
    arrays, kept, skipped, cache = image_arrays(train_items + val_items, spec, duration_s,
                                                 cache_root, progress)
    split = split_arrays(arrays, kept, train_items, labels)
    train_kept, val_kept = split.train_kept, split.val_kept
    x_tr, y_tr, x_val, y_val_chunks, val_groups, y_val_files = (
        split.x_tr, split.y_tr, split.x_val, split.y_val_chunks, split.val_groups,
        split.y_val_files)
    x_tr, y_tr_t = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    weights = class_weights(y_tr, len(labels)).to(device)

    if init_ck:
        net, widths, how = init_network(arch, labels, init_ck, seed)
    else:
        torch.manual_seed(seed)
        net, widths, how = VGG(arch, len(labels)), None, "from scratch (random weights)"
    net.to(device)
    opt = torch.optim.SGD(net.parameters(), lr=hp["lr"], momentum=hp["momentum"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=hp["plateau_factor"], patience=hp["plateau_patience"])
    run = {"method": "cnn", "arch": arch, "labels": labels, "representation": spec.to_dict(),
           "head_widths": widths, "seed": seed, "duration_s": duration_s,
           "train_files": [str(i.path.resolve()) for i in train_kept],
           "val_files": [str(i.path.resolve()) for i in val_kept]}
    result = TrainResult(out, "cnn", labels, cache=cache.stats(), skipped=skipped)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    best_key, history = None, []
    if ckpt.is_file():
        history, best_key, how = _resume(ckpt, run, net, opt, sched, result)
    log = (lambda msg: tqdm.write(msg, file=sys.stderr)) if progress else (lambda msg: None)
    log(f"{arch} on {spec.type} images, {len(labels)} genres, {len(x_tr)} training chunks "
        f"from {len(train_kept)} files, {len(val_kept)} validation files, {device}: {how}")

    def bundle_config(entry: dict) -> dict:
        return _bundle_config(entry, arch=arch, spec=spec, labels=labels, widths=widths,
                              training=training_info(
                                  "cnn", data, train_kept, val_kept, seed=seed,
                                  val_split=val_split, duration_s=duration_s,
                                  init=init_ck.source if init_ck else None,
                                  batch_size=batch_size, epochs=epochs,
                                  train_chunks=int(len(x_tr)), optimizer=_optimizer_text(hp)),
                              data=data)

    n_files_val = len(val_kept)
    try:
        for epoch in range(result.start_epoch, epochs + 1):
            t0 = time.perf_counter()
            order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(
                seed * 1_000_003 + epoch))
            loss, _ = train_epoch(net, opt, x_tr, y_tr_t, order, batch_size=batch_size,
                                  to_input=lambda x: from_uint8(x, spec), weights=weights,
                                  device=device, progress=progress,
                                  desc=f"epoch {epoch}/{epochs}")
            entry = {"epoch": epoch, "loss": loss, "lr": opt.param_groups[0]["lr"]}
            if n_files_val:
                probs, val_loss = cnn_predict(net, x_val, y_val_chunks, spec, weights,
                                               batch_size, device)
                files = clips_scores(probs, val_groups, n_files_val, normalise=True)
                entry["val_loss"] = val_loss
                entry["val_accuracy"] = float(np.mean(files.argmax(1) == y_val_files))
                key = (entry["val_accuracy"], -val_loss)
            else:
                key = (epoch,)
            sched.step(entry.get("val_loss", entry["loss"]))
            entry["time_s"] = round(time.perf_counter() - t0, 2)
            history.append(entry)
            best = best_key is None or key > best_key
            if best:
                best_key, result.best_epoch = key, epoch
                write_bundle(out, bundle_config(entry), net.state_dict())
            save_checkpoint(ckpt, run=json.dumps(run), epoch=epoch, model=net.state_dict(),
                             optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                             best_epoch=result.best_epoch or 0, best_key=list(best_key),
                             history=json.dumps(history), rng=torch.get_rng_state())
            log(f"epoch {epoch}/{epochs}  loss {entry['loss']:.4f}"
                + (f"  val loss {entry['val_loss']:.4f}  val acc {entry['val_accuracy']:.1%}"
                   if "val_loss" in entry else "")
                + f"  lr {entry['lr']:g}  {entry['time_s']:.0f} s" + ("  * saved" if best else ""))
            if on_epoch:
                on_epoch(entry)
    except KeyboardInterrupt:
        result.interrupted = True
    result.history = history
    result.epochs_done = len(history)
    if val_kept and not result.interrupted and result.has_bundle:
        result.report = final_report(out, val_kept, duration_s, device, labels, progress)
    return result


def _resume(ckpt: Path, run: dict, net, opt, sched, result: TrainResult):
    """Load a run's checkpoint into the network, optimiser, scheduler and RNG;
    returns the history, the best epoch's key and the log text."""
    ck = load_checkpoint(ckpt, run)
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    torch.set_rng_state(ck["rng"])
    result.best_epoch = ck["best_epoch"] or None
    result.start_epoch = ck["epoch"] + 1
    best_key = tuple(ck["best_key"]) if ck["best_key"] else None
    return json.loads(ck["history"]), best_key, f"resumed from {ckpt} after epoch {ck['epoch']}"


def _optimizer_text(hp: dict) -> str:
    return (f"SGD lr {hp['lr']} momentum {hp['momentum']}, ReduceLROnPlateau "
            f"factor {hp['plateau_factor']} patience {hp['plateau_patience']}")


def _bundle_config(entry: dict, *, arch: str, spec, labels: list[str], widths, training: dict,
                   data) -> dict:
    """The ``config.json`` of the bundle saved after epoch ``entry``."""
    config = {
        "architecture": arch,
        "display_name": f"{arch.upper()} on {spec.type.upper()} ({len(labels)} genres, "
                        f"trained on {Path(data).name})",
        "representation": spec.to_dict(),
        "labels": labels,
        "output": "softmax",
        "metrics": {"best_epoch": entry["epoch"],
                    **{k: entry[k] for k in ("val_accuracy", "val_loss", "loss") if k in entry}},
        "training": training,
    }
    if widths:
        config["head_widths"] = widths
    return config


def train_epoch(net: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor, order: torch.Tensor, *, batch_size: int,
                to_input: Callable[[torch.Tensor], torch.Tensor],
                weights: torch.Tensor | None = None, device="cpu", progress: bool = False,
                desc: str = "epoch") -> tuple[float, float]:
    """One training pass of ``net`` over the examples ``x[order]`` in batches.

    Parameters
    ----------
    x, y : torch.Tensor
        Stored examples (e.g. uint8 pixels) and their label indices.
    order : torch.Tensor
        The example order of this epoch (a seeded permutation).
    to_input : callable
        A batch of ``x`` (on ``device``) -> the network's input.
    weights : torch.Tensor, optional
        Class weights of the cross-entropy.

    Returns
    -------
    loss : float
        Mean training loss over the examples.
    accuracy : float
        Share of examples whose top output was their label (as trained, with
        dropout).
    """
    from tqdm import tqdm

    net.train()
    total, correct = 0.0, 0
    bar = tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False,
               file=sys.stderr, disable=not progress, dynamic_ncols=True)
    for start in bar:
        idx = order[start:start + batch_size]
        target = y[idx].to(device)
        logits = net(to_input(x[idx].to(device)))
        loss = F.cross_entropy(logits, target, weight=weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        correct += int((logits.argmax(1) == target).sum())
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return total / len(order), correct / len(order)


def cnn_predict(net, x: torch.Tensor | np.ndarray, y: np.ndarray, spec: ImageSpec,
                weights: torch.Tensor, batch_size: int, device) -> tuple[np.ndarray, float]:
    """Softmax per chunk and the class-weighted loss, in evaluation mode."""
    net.eval()
    x = torch.as_tensor(x)
    probs, loss_sum, weight_sum = [], 0.0, 0.0
    with torch.inference_mode():
        for start in range(0, len(x), 2 * batch_size):
            logits = net(from_uint8(x[start:start + 2 * batch_size].to(device), spec))
            target = torch.from_numpy(y[start:start + 2 * batch_size]).to(device)
            loss_sum += float(F.cross_entropy(logits, target, weight=weights, reduction="sum"))
            weight_sum += float(weights[target].sum())
            probs.append(torch.softmax(logits.float(), 1).cpu().numpy())
    return np.concatenate(probs), loss_sum / weight_sum
