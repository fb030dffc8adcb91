"""Convert musicnn's VGG TensorFlow checkpoints to genrescope safetensors bundles.

Reads the ``MSD_vgg`` and ``MTT_vgg`` TF1 checkpoints shipped inside the
``musicnn==0.1.0`` wheel (ISC licence, Jordi Pons / MTG-UPF), maps them onto
:class:`genrescope.models.musicnn_vgg.MusicnnVGG` and writes, for each model::

    genrescope/assets/<msd|mtt>_vgg/model.safetensors   (float32 weights;
                                                          BN step counters int64)
    genrescope/assets/<msd|mtt>_vgg/config.json
    genrescope/assets/<msd|mtt>_vgg/LICENSE              (the wheel's LICENSE.md)

Only the model variables are kept (no Adam slots, no ``beta*_power``).
It then checks the port: the original TF graph (``musicnn.models.define_model``
with the checkpoint restored) and the torch module are run on the same
log-mel patches (genrescope's :func:`musicnn_patches`, checked against
musicnn's extractor by ``tools/convert_musicnn.py``) of real clips and of the
synthetic clip of ``tests/test_musicnn_vgg.py``; the max abs difference of
tag probabilities and of the 256-d embedding (pool5 flattened in NHWC order,
as ``tf.layers.flatten`` does) is printed and must be < 1e-4.

Same throwaway environment as ``tools/convert_musicnn.py`` (whose helpers
this script imports), plus ``pillow`` (``genrescope.mel_patches`` imports
``genrescope.features``, which needs it)::

    PYTHONPATH=. /tmp/tfenv/bin/python tools/convert_musicnn_vgg.py [--clips-dir /work/shared/data]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from convert_musicnn import (  # noqa: E402  (sets the TF environment variables)
    checkpoint_state,
    musicnn_package,
    port_checkpoint,
    write_bundle as write_musicnn_bundle,
    TOLERANCE,
    TFMusicnn,
    synthetic_test_clip,
)

import numpy as np  # noqa: E402

MODELS = {"msd_vgg": "MSD_vgg", "mtt_vgg": "MTT_vgg"}
DISPLAY_NAMES = {
    "msd_vgg": "musicnn VGG (MSD, 50 Last.fm tags)",
    "mtt_vgg": "musicnn VGG (MTT, 50 MagnaTagATune tags)",
}
# MusicnnVGG constructor arguments equal to musicnn's vgg(..., num_filters=128)
NETWORK = {
    "n_frames": 187,
    "n_mels": 96,
    "n_classes": 50,
    "n_filters": 128,
    "kernel_size": 3,
    "pool_sizes": [[4, 1], [2, 2], [2, 2], [2, 2], [4, 4]],
    "pool_strides": [[2, 2], [2, 2], [2, 2], [2, 2], [4, 4]],
    "block_dropout": 0.25,
    "dropout": 0.5,
    "bn_eps": 0.001,
}
# TF variable scope -> torch module
CONV_MAP = {f"{i + 1}CNN": f"blocks.{i}.conv" for i in range(5)}
BN_MAP = {"batch_normalization": "input_bn",
          **{f"batch_normalization_{i + 1}": f"blocks.{i}.bn" for i in range(5)}}
DENSE_MAP = {"dense": "classifier"}


def _vgg_convs(get) -> dict:
    sd = {}
    for tf_name, prefix in CONV_MAP.items():
        sd[f"{prefix}.weight"] = get(f"{tf_name}/kernel").transpose(3, 2, 0, 1)  # HWIO -> OIHW
        sd[f"{prefix}.bias"] = get(f"{tf_name}/bias")
    return sd


def tf_state_dict(checkpoint_dir: str):
    """Read a musicnn VGG TF checkpoint into a torch state_dict (float32)."""
    return checkpoint_state(checkpoint_dir, _vgg_convs, BN_MAP, DENSE_MAP)


def write_bundle(key: str, state_dict, labels, license_text: str, musicnn_version: str) -> Path:
    return write_musicnn_bundle(key, state_dict, labels, license_text, musicnn_version,
                                architecture="musicnn_vgg", display_name=DISPLAY_NAMES[key],
                                network=NETWORK, checkpoint=MODELS[key],
                                tool="tools/convert_musicnn_vgg.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips-dir", default="/work/shared/data",
                        help="holds music-clips/*.ogg, gtzan-mini/*.wav (optional)")
    parser.add_argument("--n-clips", type=int, default=3, help="clips taken from each folder")
    args = parser.parse_args()

    import librosa
    import tensorflow as tf
    import torch

    from genrescope.mel_patches import musicnn_patches
    from genrescope.models.musicnn_vgg import MusicnnVGG

    tf.compat.v1.disable_eager_execution()
    torch.set_grad_enabled(False)

    package_dir, version, license_text, tags = musicnn_package()
    labels = {"msd_vgg": tags["MSD"], "mtt_vgg": tags["MTT"]}

    clips = []
    for pattern in ("music-clips/*.ogg", "gtzan-mini/*.wav"):
        clips += sorted(glob.glob(os.path.join(args.clips_dir, pattern)))[: args.n_clips]
    if not clips:
        print(f"no clips under {args.clips_dir}: checking on the synthetic clip only")
    inputs = {}
    for path in clips:
        y, _ = librosa.load(path, sr=16000)
        inputs[os.path.basename(path)] = musicnn_patches(y)
    inputs["synthetic_test_clip"] = musicnn_patches(synthetic_test_clip())
    rng = np.random.default_rng(0)
    inputs["random_patches"] = rng.uniform(0, 3, (8, 187, 96)).astype(np.float32)

    worst_prob = worst_emb = 0.0
    for key, tf_name in MODELS.items():
        checkpoint_dir = os.path.join(package_dir, tf_name) + "/"
        model = port_checkpoint(key, checkpoint_dir, MusicnnVGG(**NETWORK).eval(), tf_state_dict,
                                lambda k, sd: write_bundle(k, sd, labels[k], license_text, version))

        tf_model = TFMusicnn(tf_name, checkpoint_dir)
        for name, patches in inputs.items():
            tf_probs, tf_pool5 = tf_model(patches)
            tf_emb = tf_pool5.reshape(len(patches), -1)  # NHWC flatten = tf.layers.flatten
            logits, emb = model(torch.from_numpy(patches))
            d_prob = float(np.abs(torch.sigmoid(logits).numpy() - tf_probs).max())
            d_emb = float(np.abs(emb.numpy() - tf_emb).max())
            worst_prob, worst_emb = max(worst_prob, d_prob), max(worst_emb, d_emb)
            print(f"  {name[:48]:48s} n={patches.shape[0]:3d} max|dprob|={d_prob:.2e} "
                  f"max|demb|={d_emb:.2e} (max|emb|={np.abs(tf_emb).max():.2f})")
        tf_probs, tf_pool5 = tf_model(inputs["synthetic_test_clip"])
        tf_emb = tf_pool5.reshape(len(tf_pool5), -1)
        top = np.argsort(-tf_probs[0])[:5]
        print("  synthetic clip, patch 0, TF top-5:",
              [(int(i), labels[key][i], round(float(tf_probs[0, i]), 6)) for i in top])
        print("  synthetic clip, patch 0, TF embedding[:6]:", np.round(tf_emb[0, :6], 6).tolist())
        print("  synthetic clip, patch 0, TF embedding[128:134]:",
              np.round(tf_emb[0, 128:134], 6).tolist())
        tf_model.sess.close()

    print(f"worst max abs difference: tag probabilities {worst_prob:.3e}, "
          f"embedding {worst_emb:.3e} (tolerance {TOLERANCE:g})")
    if worst_prob >= TOLERANCE or worst_emb >= TOLERANCE:
        print("FAILED", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
