"""Convert EfficientAT ``mn04_as_mAP_432.pt`` to the shipped ``audioset`` bundle; check the port.

Reads the original PyTorch state_dict (``torch.load(weights_only=True)``:
tensors only, nothing unpickled that could run code), loads it strictly
into :class:`genrescope.models.efficientat.EfficientAT` (every tensor used,
none missing, equal shapes) and writes::

    genrescope/assets/audioset/model.safetensors        (float32, 312 tensors)
    genrescope/assets/audioset/config.json              (front end, network, 527 labels
                                                         with English and Chinese names)
    genrescope/assets/audioset/LICENSE                  (MIT, Florian Schmid, copied)
    genrescope/assets/audioset/class_labels_indices.csv (AudioSet's names, copied)

Label ids are AudioSet's display names made identifiers (``Male speech, man
speaking`` -> ``Male_speech_man_speaking``); Chinese names come from
``tools/audioset_zh.tsv`` (English name, tab, Chinese name, in output
order; checked against the csv line by line).

It then checks the port on the original implementation's outputs in
``<source>/reference/`` (``NAME.input.npy`` 32 kHz waveform, ``.mel.npy``,
``.logits.npy``, ``.embedding.npy``): genrescope's front end against the
reference mel, the network on the reference mel against the reference
logits and embedding, and the shipped bundle loaded through the registry
end to end (our mel, our network). It prints max |difference| per case and
fails (exit 1) unless front end <= 1e-4 and logits, embedding <= 1e-3.

    PYTHONPATH=. .venv/bin/python tools/convert_efficientat.py \\
        [--source /work/shared/models/efficientat_mn04] [--check-only]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "genrescope" / "assets" / "audioset"
ZH_TABLE = Path(__file__).resolve().parent / "audioset_zh.tsv"
WEIGHTS = "mn04_as_mAP_432.pt"
SHA256 = "899a8c6217063f6941793102a2780b3dd788ab11fce468d9cf5f0577c453321c"
NETWORK = {"width_mult": 0.4, "n_classes": 527, "dropout": 0.2}
MEL_TOLERANCE = 1e-4
NETWORK_TOLERANCE = 1e-3
CASES = ("synth10s", "blues00000_10s", "synth3s")


def label_id(display_name: str) -> str:
    """``Male speech, man speaking`` -> ``Male_speech_man_speaking``."""
    text = re.sub(r"[^0-9A-Za-z]+", "_", display_name.replace("'", ""))
    return re.sub(r"_+", "_", text).strip("_")


def read_labels(csv_path: Path, zh_path: Path = ZH_TABLE) -> list[dict]:
    """AudioSet's classes in output order: ``{"index", "mid", "id", "en", "zh"}``."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    zh_rows = [line.rstrip("\n").split("\t") for line in zh_path.read_text("utf-8").splitlines()]
    if len(zh_rows) != len(rows):
        raise SystemExit(f"{zh_path}: {len(zh_rows)} lines for {len(rows)} classes")
    labels = []
    for i, (row, (en, zh)) in enumerate(zip(rows, zh_rows)):
        if int(row["index"]) != i or row["display_name"] != en or not zh.strip():
            raise SystemExit(f"{zh_path} line {i + 1}: {en!r} does not match {row}")
        labels.append({"index": i, "mid": row["mid"], "id": label_id(en), "en": en, "zh": zh})
    if len({lab["id"] for lab in labels}) != len(labels):
        raise SystemExit("label ids are not unique")
    return labels


def bundle_config(labels: list[dict]) -> dict:
    from genrescope.efficientat_mel import MelSpec

    return {
        "name": "audioset",
        "architecture": "efficientat",
        "display_name": "EfficientAT mn04 (AudioSet, 527 sound classes)",
        "representation": MelSpec().to_dict(),
        "network": NETWORK,
        "output": "sigmoid",
        "normalise": False,
        "labels": [lab["id"] for lab in labels],
        "label_names": {lab["id"]: {"en": lab["en"], "zh": lab["zh"]} for lab in labels},
        "label_mids": {lab["id"]: lab["mid"] for lab in labels},
        "license": "MIT",
        "credit": "AudioSet, Gemmeke et al. 2017 (CC BY 4.0)",
        "source": f"EfficientAT (Florian Schmid), {WEIGHTS} (mAP 0.432), "
                  "converted by tools/convert_efficientat.py",
    }


def write_bundle(source: Path, labels: list[dict]) -> None:
    """Load the .pt strictly into the torch network and write the bundle."""
    from safetensors.torch import save_file

    from genrescope.models.checkpoint import load_strict, read_state_dict
    from genrescope.models.efficientat import EfficientAT

    weights = source / WEIGHTS
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    print(f"{weights}: sha256 {digest} ({'as published' if digest == SHA256 else 'DIFFERS'})")
    state = read_state_dict(weights)
    net = EfficientAT(**NETWORK).eval()
    load_strict(net, state, weights, what="EfficientAT mn04")
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    save_file(state, str(OUT_DIR / "model.safetensors"), metadata={"format": "pt"})
    config = bundle_config(labels)
    (OUT_DIR / "config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    shutil.copyfile(source / "LICENSE", OUT_DIR / "LICENSE")
    shutil.copyfile(source / "class_labels_indices.csv", OUT_DIR / "class_labels_indices.csv")
    n_params = sum(p.numel() for p in net.parameters())
    size = (OUT_DIR / "model.safetensors").stat().st_size
    print(f"audioset: {len(state)} tensors, {n_params} parameters, wrote "
          f"{OUT_DIR.relative_to(REPO_ROOT)} (model.safetensors {size} bytes)")


def port_check(reference: Path) -> bool:
    """Print max |difference| per case; True when every figure is within tolerance."""
    import torch

    from genrescope.efficientat_mel import log_mel
    from genrescope.models.registry import load_model, resolve

    model = load_model(resolve(str(OUT_DIR)))
    ok = True
    print(f"port check against {reference} (tolerances: mel {MEL_TOLERANCE:g}, "
          f"logits and embedding {NETWORK_TOLERANCE:g})")
    print(f"  {'case':16s} {'mel':>9s} {'logits':>9s} {'embedding':>9s}   "
          f"{'logits e2e':>10s} {'emb e2e':>9s}")
    for case in CASES:
        ref = {k: np.load(reference / f"{case}.{k}.npy")
               for k in ("input", "mel", "logits", "embedding")}
        d_mel = float(np.abs(log_mel(ref["input"], model.rep) - ref["mel"]).max())
        with torch.inference_mode():
            logits, emb = model.net(torch.from_numpy(ref["mel"])[None, None])
            inputs = model.features(ref["input"]).inputs
            assert inputs.shape[0] == 1, "a <= 10 s reference case is one chunk"
            logits_e2e, emb_e2e = model._run(inputs)
        d = [float(np.abs(a[0].numpy() - ref[k]).max())
             for a, k in ((logits, "logits"), (emb, "embedding"),
                          (logits_e2e, "logits"), (emb_e2e, "embedding"))]
        ok &= d_mel <= MEL_TOLERANCE and max(d) <= NETWORK_TOLERANCE
        print(f"  {case:16s} {d_mel:9.2e} {d[0]:9.2e} {d[1]:9.2e}   {d[2]:10.2e} {d[3]:9.2e}")
        top = np.argsort(-ref["logits"])[:3]
        print("    top-3 (reference):", ", ".join(
            f"{model.genres[i].en} {1 / (1 + np.exp(-ref['logits'][i])):.3f}" for i in top))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path,
                        default=Path("/work/shared/models/efficientat_mn04"),
                        help=f"folder with {WEIGHTS}, LICENSE, class_labels_indices.csv, "
                             "reference/")
    parser.add_argument("--check-only", action="store_true",
                        help="do not write the bundle, only check the shipped one")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    labels = read_labels(args.source / "class_labels_indices.csv")
    if not args.check_only:
        write_bundle(args.source, labels)
    ok = port_check(args.source / "reference")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
