"""musicnn VGG port: key layout, shapes, shipped bundles, golden outputs and
use as a component of a musicnn genre model.

The golden values were printed by ``tools/convert_musicnn_vgg.py`` from the
original TensorFlow graph on the synthetic clip of tests/test_musicnn.py
(the torch port agreed to < 2e-6 in probabilities, < 1e-5 in the
embedding).  No TensorFlow or shared data is needed here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_musicnn import ASSETS, synthetic_clip

from genrescope import Classifier
from genrescope.mel_patches import musicnn_patches
from genrescope.models.musicnn import MusicnnGenreModel
from genrescope.models.musicnn_vgg import MusicnnVGG, MusicnnVggModel
from genrescope.models.registry import load_model, model_family, resolve

# first patch of synthetic_clip(), from TensorFlow: (tag index, tag, sigmoid
# probability) of the top-5 tags, embedding[:6] and embedding[128:134]
# (pool5 frame 0 and frame 1, channels 0-5)
GOLDEN = {
    "msd_vgg": {
        "top_tags": [
            (4, "electronic", 0.516931),
            (28, "ambient", 0.396745),
            (30, "experimental", 0.260564),
            (18, "electronica", 0.136263),
            (41, "electro", 0.054522),
        ],
        "embedding": {0: [-0.216838, 0.090515, -0.285385, 0.930347, -0.925454, -0.368469],
                      128: [-0.216838, 0.066342, -0.305292, 0.923983, -0.925454, -0.368469]},
    },
    "mtt_vgg": {
        "top_tags": [
            (3, "techno", 0.322686),
            (6, "electronic", 0.313072),
            (10, "ambient", 0.23275),
            (14, "synth", 0.173216),
            (2, "slow", 0.098147),
        ],
        "embedding": {0: [0.050978, 0.617439, -0.052994, -0.356057, -0.036829, -0.085274],
                      128: [0.053203, 0.145012, -0.160243, -0.23425, -0.036829, -0.136443]},
    },
}
TOL = 1e-4
N_PARAMETERS = 605_748


def expected_keys() -> list[str]:
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = [f"input_bn.{p}" for p in bn]
    for i in range(5):
        keys += [f"blocks.{i}.conv.weight", f"blocks.{i}.conv.bias"]
        keys += [f"blocks.{i}.bn.{p}" for p in bn]
    return keys + ["classifier.weight", "classifier.bias"]


def test_random_state_dict_with_the_key_layout_loads_strictly():
    net = MusicnnVGG().eval()
    assert list(net.state_dict()) == expected_keys()
    assert sum(p.numel() for p in net.parameters()) == N_PARAMETERS
    assert net.embedding_dim == 256
    generator = torch.Generator().manual_seed(0)
    state = {k: (torch.rand(v.shape, generator=generator) + 0.5 if v.is_floating_point() else v)
             for k, v in net.state_dict().items()}
    other = MusicnnVGG().eval()
    other.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits, embedding = other(torch.randn(4, 187, 96, generator=generator))
    assert logits.shape == (4, 50) and embedding.shape == (4, 256)
    assert logits.dtype == embedding.dtype == torch.float32
    with pytest.raises(ValueError):
        other(torch.zeros(1, 187, 128))
    with pytest.raises(ValueError):
        other(torch.zeros(1, 100, 96))   # the dense layer fixes the patch length


def test_embedding_is_pool5_in_tensorflows_nhwc_order():
    net = MusicnnVGG().eval()
    x = torch.randn(2, 187, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = net.input_bn(x.unsqueeze(1))
        for block in net.blocks:
            h = block(h)
        _, embedding = net(x)
    assert h.shape == (2, 128, 2, 1)                 # NCHW: channels, frames, bands
    # TF flattens (frame, band, channel): frame 0's 128 channels, then frame 1's
    torch.testing.assert_close(embedding[:, :128], h[:, :, 0, 0], rtol=0, atol=0)
    torch.testing.assert_close(embedding[:, 128:], h[:, :, 1, 0], rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_bundle_files_and_config(name):
    folder = ASSETS / name
    config = json.loads((folder / "config.json").read_text())
    assert config["name"] == name
    assert config["architecture"] == "musicnn_vgg"
    assert config["output"] == "sigmoid" and config["license"] == "ISC"
    musicnn_name = name.replace("vgg", "musicnn")
    musicnn_config = json.loads((ASSETS / musicnn_name / "config.json").read_text())
    assert config["representation"] == musicnn_config["representation"]
    assert config["labels"] == musicnn_config["labels"]
    assert "Jordi Pons" in (folder / "LICENSE").read_text()
    state = load_file(str(folder / "model.safetensors"))
    assert sorted(state) == sorted(expected_keys())
    for key, tensor in state.items():
        if not key.endswith("num_batches_tracked"):
            assert tensor.dtype == torch.float32, key
    assert 2_000_000 < (folder / "model.safetensors").stat().st_size < 3_000_000


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_registry_load_and_golden_outputs(name):
    assert model_family("musicnn_vgg") is MusicnnVggModel
    model = load_model(resolve(name), "cpu")
    assert isinstance(model, MusicnnVggModel) and not model.training
    assert model.sr == 16000 and model.rep["patch_frames"] == 187
    patches = torch.from_numpy(musicnn_patches(synthetic_clip()))
    assert patches.shape == (1, 187, 96)
    with torch.no_grad():
        logits, embedding = model.net(patches)
        torch.testing.assert_close(model(patches), logits)
        torch.testing.assert_close(model.embed(patches), embedding)
        scores, embedded = model.scores_and_embed(patches)
    torch.testing.assert_close(scores, torch.sigmoid(logits))
    torch.testing.assert_close(embedded, embedding)
    probs = torch.sigmoid(logits)[0].numpy()
    golden = GOLDEN[name]
    top = np.argsort(-probs)[: len(golden["top_tags"])]
    assert [int(i) for i in top] == [i for i, _, _ in golden["top_tags"]]
    for index, tag, prob in golden["top_tags"]:
        assert model.labels[index] == tag
        assert abs(float(probs[index]) - prob) < TOL, (tag, float(probs[index]), prob)
    for start, values in golden["embedding"].items():
        np.testing.assert_allclose(embedding[0, start:start + 6].numpy(), values, atol=TOL, rtol=0)


def test_genre_model_with_a_musicnn_and_a_vgg_component(tmp_path):
    rep = resolve("msd_musicnn").config.representation
    tag_map = {"rock": {"msd_musicnn": ["rock", "hard rock"], "msd_vgg": ["rock"]},
               "jazz": {"msd_musicnn": ["jazz"], "msd_vgg": ["jazz"]},
               "electronic": {"msd_vgg": ["electronic", "electro"]}}
    folder = tmp_path / "mixed_genres"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "name": "mixed_genres", "architecture": "musicnn_genres",
        "components": ["msd_musicnn", "msd_vgg"], "representation": rep,
        "labels": list(tag_map), "tag_map": tag_map, "output": "sigmoid", "normalise": True}))
    model = load_model(resolve(folder), "cpu")
    assert isinstance(model, MusicnnGenreModel)
    assert type(model.components["msd_vgg"]) is MusicnnVggModel
    assert model.n_tags.tolist() == [3.0, 2.0, 2.0]

    patches = torch.from_numpy(musicnn_patches(synthetic_clip(7.0)))
    assert patches.shape == (2, 187, 96)
    with torch.no_grad():
        embedding = model.embed(patches)
        scores, embedded = model.scores_and_embed(patches)
        vgg_probs = torch.sigmoid(model.components["msd_vgg"](patches))
        musicnn_probs = torch.sigmoid(model.components["msd_musicnn"](patches))
    assert embedding.shape == (2, 200 + 256)
    torch.testing.assert_close(embedded, embedding)
    torch.testing.assert_close(scores, model.scores(patches))
    electronic = vgg_probs[:, [4, 41]].mean(dim=1)          # vgg tags only
    torch.testing.assert_close(scores[:, 2], electronic)
    rock = (musicnn_probs[:, 0] + musicnn_probs[:, 27] + vgg_probs[:, 0]) / 3
    torch.testing.assert_close(scores[:, 0], rock)

    clf = Classifier.load(folder, precision="fp32")
    pred = clf.classify(synthetic_clip(7.0), sr=16000)
    assert pred.chunk_probabilities.shape == (2, 3)
    assert clf.embed(synthetic_clip(7.0), sr=16000).shape[-1] == 456


def test_eval_fast_paths_equal_the_layer_order_with_negative_bn_scales():
    """Eval mode reduces before ReLU and batch norm (musicnn's max over
    frequency, the VGG blocks' max pools), taking a min through negated
    weights where a batch-norm scale is negative: the numbers of the plain
    order conv -> ReLU -> batch norm -> max."""
    import torch.nn.functional as F

    from genrescope.models.musicnn import Musicnn

    torch.manual_seed(0)
    for net in (Musicnn(), MusicnnVGG()):
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.weight.data = torch.randn_like(m.weight)          # about half negative
                m.running_var.data = torch.rand_like(m.running_var) + 0.5
                m.running_mean.data = torch.randn_like(m.running_mean)
        net.eval()
        x = torch.randn(2, 187, 96)
        with torch.no_grad():
            fast = net(x)
            for m in net.modules():          # the plain order, batch norm in eval mode
                if type(m).__name__ == "_FrontEndBranch":
                    m.forward = (lambda b: lambda v: b.bn(F.relu(b.conv(F.pad(
                        v, (0, 0, b.pad_before_frames, b.pad_after_frames))))).amax(dim=3))(m)
                if type(m).__name__ == "_VggBlock":
                    m.forward = (lambda b: lambda v: b.pool(b.bn(F.relu(b.conv(v)))))(m)
            plain = net(x)
        for a, b in zip(fast, plain):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-5), (a - b).abs().max()


def test_compiled_for_throughput_gives_the_modules_numbers_at_any_batch():
    """The indexer's workers compile the VGG network (TorchScript, frozen,
    optimised for inference): the same outputs within 1e-5 at any batch size,
    the module itself whenever gradients are on (training), and nothing new
    in the weights (the library's model version stays)."""
    model = MusicnnVggModel({"name": "t", "architecture": "musicnn_vgg", "labels": ["a"] * 50,
                             "representation": {"sr": 16000, "patch_frames": 187}})
    torch.manual_seed(0)
    for p in model.parameters():
        p.data = torch.randn_like(p) * 0.1
    model.eval()
    x = torch.randn(11, 187, 96)
    keys = set(model.state_dict())
    with torch.no_grad():
        plain = [model.scores_and_embed(x[:n]) for n in (1, 4, 11)]
        model.compile_for_throughput("cpu")
        fast = [model.scores_and_embed(x[:n]) for n in (1, 4, 11)]
    assert "net" in model._compiled and set(model.state_dict()) == keys
    for (a, b), (c, d) in zip(plain, fast):
        assert torch.allclose(a, c, atol=1e-5) and torch.allclose(b, d, atol=1e-5)
    x.requires_grad_(True)
    model.embed(x[:2]).sum().backward()            # with gradients: the module, not the trace
    assert x.grad is not None
