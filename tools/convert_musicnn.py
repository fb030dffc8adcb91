"""Convert musicnn's TensorFlow checkpoints to genrescope safetensors bundles.

Reads the ``MSD_musicnn`` and ``MTT_musicnn`` TF1 checkpoints shipped inside
the ``musicnn==0.1.0`` wheel (ISC licence, Jordi Pons / MTG-UPF), maps them
onto :class:`genrescope.models.musicnn.Musicnn` and writes, for each model::

    genrescope/assets/<msd|mtt>_musicnn/model.safetensors   (float32 weights;
                                                              BN step counters int64)
    genrescope/assets/<msd|mtt>_musicnn/config.json
    genrescope/assets/<msd|mtt>_musicnn/LICENSE              (the wheel's LICENSE.md)

It then checks the port: the original TF graph (``musicnn.models.define_model``
with the checkpoint restored by ``tf.compat.v1.train.Saver``) and the torch
module are run on the same log-mel patches of real clips and of the
synthetic clip used by ``tests/test_musicnn.py``; the max abs difference of
tag probabilities (and of the 200-d embeddings) is printed and must be
< 1e-4.  It also compares :func:`musicnn_patches` / :func:`musicnn_log_mel`
with musicnn's own ``extractor.batch_data`` (mel cast to float32 instead of
float16, see below).

Environment (TensorFlow is needed only here, never at run time).  Use a
throwaway venv holding TF, musicnn (``--no-deps``: it pins numpy<1.17),
librosa, and torch/safetensors so that one script does everything::

    python3 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu tf_keras librosa soundfile safetensors
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfenv/bin/pip install /opt/wheels/torch-2.13.0+cpu-*.whl  # or torch==2.13.0 (CPU index)
    /tmp/tfenv/bin/python tools/convert_musicnn.py [--clips-dir /work/shared/data]

(tested with tensorflow 2.21 + tf_keras 2.21, librosa 0.11, numpy 2.4,
torch 2.13.0).  ``tf_keras`` is required because musicnn's graph uses
``tf.compat.v1.layers``, absent under Keras 3; the script sets
``TF_USE_LEGACY_KERAS=1`` itself.
The network (``genrescope/models/musicnn.py``) and its front end
(``genrescope/mel_patches.py``) are imported from the genrescope package
(``PYTHONPATH`` = the repository root), which needs numpy and torch there.

Notes on matching musicnn's extractor:

* ``extractor.batch_data`` casts the mel to float16 before
  ``log10(10000 * x + 1)``; under NumPy 2 the product stays float16 and
  overflows to inf, so for the comparison the cast is redirected to float32.
* librosa >= 0.10 changed ``stft``'s default ``pad_mode`` from 'reflect' to
  'constant'.  musicnn was trained (librosa 0.7) with reflect padding, which
  genrescope reproduces; the extractor under librosa 0.11 therefore differs
  in the first (and last) spectrogram frame only.  Both comparisons are
  printed.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import json
import os
import sys
import types
import warnings
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# musicnn builds its graph with tf.compat.v1.layers, which TF >= 2.16 only
# provides through the legacy Keras 2 package (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore", message=r".*is deprecated and will be removed")

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = {"msd_musicnn": "MSD_musicnn", "mtt_musicnn": "MTT_musicnn"}
DISPLAY_NAMES = {
    "msd_musicnn": "musicnn (MSD, 50 Last.fm tags)",
    "mtt_musicnn": "musicnn (MTT, 50 MagnaTagATune tags)",
}
TOLERANCE = 1e-4

# Musicnn constructor arguments equal to musicnn's build_musicnn for both
# checkpoints (num_filt=1.6 -> 204 / 51 filters, num_filt_midend=64,
# num_units_backend=200).
NETWORK = {
    "n_mels": 96,
    "n_classes": 50,
    "embedding_dim": 200,
    "timbral_filters": 204,
    "timbral_time_kernel_frames": 7,
    "timbral_freq_ratios": [0.4, 0.7],
    "temporal_filters": 51,
    "temporal_kernel_frames": [128, 64, 32],
    "midend_filters": 64,
    "midend_kernel_frames": 7,
    "n_midend_layers": 3,
    "dropout": 0.5,
    "bn_eps": 0.001,
}
REPRESENTATION = {
    "type": "musicnn_mel",
    "sr": 16000,
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "patch_frames": 187,
    "patch_hop_frames": 187,
}

# TF variable scope (in creation order in build_musicnn) -> torch module.
CONV_MAP = {
    "conv2d": "timbral.0",  # 7 x 38
    "conv2d_1": "timbral.1",  # 7 x 67
    "conv2d_2": "temporal.0",  # 128 x 1
    "conv2d_3": "temporal.1",  # 64 x 1
    "conv2d_4": "temporal.2",  # 32 x 1
    "conv2d_5": "midend.0",
    "conv2d_6": "midend.1",
    "conv2d_7": "midend.2",
}
BN_MAP = {
    "batch_normalization": "input_bn",
    "batch_normalization_1": "timbral.0.bn",
    "batch_normalization_2": "timbral.1.bn",
    "batch_normalization_3": "temporal.0.bn",
    "batch_normalization_4": "temporal.1.bn",
    "batch_normalization_5": "temporal.2.bn",
    "batch_normalization_6": "midend.0.bn",
    "batch_normalization_7": "midend.1.bn",
    "batch_normalization_8": "midend.2.bn",
    "batch_normalization_9": "pool_bn",
    "batch_normalization_10": "dense_bn",
}
DENSE_MAP = {"dense": "dense", "dense_1": "classifier"}


def load_musicnn_module():
    """The port: the network and its log-mel front end, in one namespace."""
    sys.path.insert(0, str(REPO_ROOT))
    from genrescope import mel_patches
    from genrescope.models import musicnn

    return types.SimpleNamespace(Musicnn=musicnn.Musicnn,
                                 musicnn_log_mel=mel_patches.musicnn_log_mel,
                                 musicnn_patches=mel_patches.musicnn_patches)


def synthetic_test_clip(duration_s: float = 4.0, sr_hz: int = 16000) -> np.ndarray:
    """The deterministic clip of tests/test_musicnn.py (keep both in sync)."""
    rng = np.random.default_rng(1234)
    t = np.arange(int(duration_s * sr_hz)) / sr_hz
    chord_hz = (220.0, 277.18, 329.63, 440.0)
    y = sum(0.2 * np.sin(2 * np.pi * f * t) for f in chord_hz)
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t) ** 2)  # 4 Hz amplitude pulse
    y = y + 0.05 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def checkpoint_state(checkpoint_dir: str, conv_tensors, bn_map: dict, dense_map: dict):
    """Read a musicnn TF checkpoint into a torch state_dict (float32).

    ``conv_tensors(get)`` returns the convolution tensors (names -> arrays;
    ``get(tf_name)`` reads one variable); the batch norms and dense layers
    follow ``bn_map`` / ``dense_map`` (TF scope -> torch prefix). Every
    variable of the checkpoint but the optimiser's must be used.
    """
    import tensorflow as tf
    import torch

    reader = tf.compat.v1.train.NewCheckpointReader(checkpoint_dir)
    names = set(reader.get_variable_to_shape_map())
    used = set()

    def get(name):
        used.add(name)
        return np.asarray(reader.get_tensor(name), dtype=np.float32)

    sd = dict(conv_tensors(get))
    for tf_name, prefix in bn_map.items():
        sd[f"{prefix}.weight"] = get(f"{tf_name}/gamma")
        sd[f"{prefix}.bias"] = get(f"{tf_name}/beta")
        sd[f"{prefix}.running_mean"] = get(f"{tf_name}/moving_mean")
        sd[f"{prefix}.running_var"] = get(f"{tf_name}/moving_variance")
    for tf_name, prefix in dense_map.items():
        # (for the VGG: the dense rows are in TF's NHWC flatten order, which the port keeps)
        sd[f"{prefix}.weight"] = get(f"{tf_name}/kernel").T
        sd[f"{prefix}.bias"] = get(f"{tf_name}/bias")

    leftover = {n for n in names - used if "Adam" not in n and not n.startswith("beta")}
    if leftover:
        raise RuntimeError(f"unmapped checkpoint variables: {sorted(leftover)}")
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    for prefix in bn_map.values():
        out[f"{prefix}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


def _musicnn_convs(get) -> dict:
    sd = {}
    for tf_name, prefix in CONV_MAP.items():
        kernel = get(f"{tf_name}/kernel")  # (kt, kf, in=1, out)
        bias = get(f"{tf_name}/bias")
        if prefix.startswith("midend"):
            # conv2d over (time, channels) with 1 input channel == conv1d
            w = kernel[:, :, 0, :].transpose(2, 1, 0)  # (out, in, kt)
        else:
            w = kernel.transpose(3, 2, 0, 1)  # (out, 1, kt, kf)
        sd[f"{prefix}.conv.weight"] = w
        sd[f"{prefix}.conv.bias"] = bias
    return sd


def tf_state_dict(checkpoint_dir: str):
    """Read a musicnn (not VGG) TF checkpoint into a torch state_dict (float32)."""
    return checkpoint_state(checkpoint_dir, _musicnn_convs, BN_MAP, DENSE_MAP)


class TFMusicnn:
    """The original musicnn TF graph with a checkpoint restored."""

    def __init__(self, model_name: str, checkpoint_dir: str, n_frames: int = 187, n_classes: int = 50):
        import tensorflow as tf
        from musicnn import configuration, models

        self.graph = tf.Graph()
        with self.graph.as_default():
            with tf.name_scope("model"):
                self.x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, configuration.N_MELS])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                out = models.define_model(self.x, self.is_training, model_name, n_classes)
                self.probs = tf.nn.sigmoid(out[0])
                self.penultimate = out[-1]
            self.sess = tf.compat.v1.Session(graph=self.graph)
            tf.compat.v1.train.Saver().restore(self.sess, checkpoint_dir)

    def __call__(self, patches: np.ndarray):
        return self.sess.run(
            [self.probs, self.penultimate], feed_dict={self.x: patches, self.is_training: False}
        )


def extractor_log_mel(audio_path: str, reflect: bool):
    """musicnn.extractor.batch_data with the float16 cast redirected to float32."""
    import librosa
    from musicnn import extractor

    np_proxy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    np_proxy.float16 = np.float32
    lib_proxy = librosa
    if reflect:
        lib_proxy = types.SimpleNamespace(
            load=librosa.load,
            feature=types.SimpleNamespace(
                melspectrogram=partial(librosa.feature.melspectrogram, pad_mode="reflect")
            ),
        )
    saved = extractor.np, extractor.librosa
    extractor.np, extractor.librosa = np_proxy, lib_proxy
    try:
        return extractor.batch_data(audio_path, 187, 187)
    finally:
        extractor.np, extractor.librosa = saved


def write_bundle(key: str, state_dict, labels, license_text: str, musicnn_version: str, *,
                 architecture: str = "musicnn", display_name: str | None = None,
                 network: dict | None = None, checkpoint: str | None = None,
                 tool: str = "tools/convert_musicnn.py") -> Path:
    """Write ``genrescope/assets/<key>/`` (weights, config.json, LICENSE); the
    keywords let the VGG converter write its bundles the same way."""
    from safetensors.torch import save_file

    out_dir = REPO_ROOT / "genrescope" / "assets" / key
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state_dict, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "name": key,
        "architecture": architecture,
        "display_name": display_name or DISPLAY_NAMES[key],
        "representation": REPRESENTATION,
        "network": NETWORK if network is None else network,
        "output": "sigmoid",
        "labels": list(labels),
        "license": "ISC",
        "source": f"musicnn {musicnn_version} (PyPI), {checkpoint or MODELS[key]} checkpoint, "
                  f"converted by {tool}",
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (out_dir / "LICENSE").write_text(license_text)
    return out_dir


def musicnn_package():
    """The installed musicnn wheel: (its folder, version, LICENSE text, tag lists
    by dataset ``{"MSD": [...], "MTT": [...]}``)."""
    import musicnn
    from musicnn import configuration

    dist = importlib.metadata.distribution("musicnn")
    license_files = [f for f in dist.files if f.name.upper().startswith("LICENSE")]
    license_text = dist.locate_file(license_files[0]).read_text()
    return (os.path.dirname(musicnn.__file__), dist.version, license_text,
            {"MSD": configuration.MSD_LABELS, "MTT": configuration.MTT_LABELS})


def port_checkpoint(key: str, checkpoint_dir: str, model, read_state, write):
    """Load a checkpoint into the torch ``model`` (strictly), write its bundle
    with ``write(key, state_dict)`` and print what was written."""
    sd = read_state(checkpoint_dir)
    model.load_state_dict(sd, strict=True)
    out_dir = write(key, sd)
    n_params = sum(p.numel() for p in model.parameters())
    size = (out_dir / "model.safetensors").stat().st_size
    print(f"{key}: {n_params} parameters, wrote {out_dir.relative_to(REPO_ROOT)} ({size} bytes)")
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips-dir", default="/work/shared/data", help="holds music-clips/*.ogg, gtzan-mini/*.wav")
    parser.add_argument("--n-clips", type=int, default=3, help="clips taken from each folder")
    args = parser.parse_args()

    import librosa
    import tensorflow as tf
    import torch

    tf.compat.v1.disable_eager_execution()
    torch.set_grad_enabled(False)
    port = load_musicnn_module()

    package_dir, version, license_text, tags = musicnn_package()
    labels = {"msd_musicnn": tags["MSD"], "mtt_musicnn": tags["MTT"]}

    clips = []
    for pattern in ("music-clips/*.ogg", "gtzan-mini/*.wav"):
        clips += sorted(glob.glob(os.path.join(args.clips_dir, pattern)))[: args.n_clips]
    if not clips:
        print(f"no clips found under {args.clips_dir}", file=sys.stderr)
        return 1

    # ---- log-mel: genrescope (NumPy) vs musicnn's extractor ----------------
    print("log-mel vs musicnn.extractor.batch_data (float32 cast):")
    inputs = {}
    for path in clips:
        y, _ = librosa.load(path, sr=16000)  # what the extractor does
        ours_full = port.musicnn_log_mel(y)
        ours = port.musicnn_patches(y)
        batch_c, rep_c = extractor_log_mel(path, reflect=False)
        batch_r, rep_r = extractor_log_mel(path, reflect=True)
        assert ours.shape == batch_r.shape == batch_c.shape, (ours.shape, batch_r.shape)
        d_reflect = float(np.abs(ours_full - rep_r).max())
        d_const = float(np.abs(ours_full - rep_c).max())
        d_const_inner = float(np.abs(ours_full[1:-1] - rep_c[1:-1]).max())
        print(
            f"  {os.path.basename(path)[:48]:48s} frames={ours_full.shape[0]:5d} patches={ours.shape[0]:3d} "
            f"max|d| reflect={d_reflect:.2e} librosa0.11-default={d_const:.2e} (frames 1..-2: {d_const_inner:.2e})"
        )
        if d_reflect > 1e-4:
            raise SystemExit("log-mel mismatch")
        inputs[os.path.basename(path)] = ours
    inputs["synthetic_test_clip"] = port.musicnn_patches(synthetic_test_clip())

    # ---- weights, bundles, TF vs torch --------------------------------------
    worst = 0.0
    for key, tf_name in MODELS.items():
        checkpoint_dir = os.path.join(package_dir, tf_name) + "/"
        model = port_checkpoint(key, checkpoint_dir, port.Musicnn(**NETWORK).eval(), tf_state_dict,
                                lambda k, sd: write_bundle(k, sd, labels[k], license_text, version))

        tf_model = TFMusicnn(tf_name, checkpoint_dir)
        for name, patches in inputs.items():
            tf_probs, tf_emb = tf_model(patches)
            logits, emb = model(torch.from_numpy(patches))
            d_prob = float(np.abs(torch.sigmoid(logits).numpy() - tf_probs).max())
            d_emb = float(np.abs(emb.numpy() - tf_emb).max())
            worst = max(worst, d_prob)
            print(f"  {name[:48]:48s} n={patches.shape[0]:3d} max|dprob|={d_prob:.2e} max|demb|={d_emb:.2e}")
        top = np.argsort(-tf_probs[0])[:5]
        print("  synthetic clip, patch 0, TF top-5:", [(labels[key][i], round(float(tf_probs[0, i]), 6)) for i in top])
        print("  synthetic clip, patch 0, TF embedding[:5]:", np.round(tf_emb[0, :5], 6).tolist())
        tf_model.sess.close()

    print(f"worst max abs difference of tag probabilities: {worst:.3e} (tolerance {TOLERANCE:g})")
    if worst >= TOLERANCE:
        print("FAILED", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
