import json
import os
import pickle

import numpy as np
import pytest
import torch

from genrescope import CCMUSIC_GENRES, Classifier, GenrescopeError
from genrescope.cli import main
from genrescope.models.registry import find_models, resolve
from genrescope.models.vgg import PLANS, VGG, ccmusic_head
from genrescope.synth import chord, groove


def test_ccmusic_head_widths():
    head = ccmusic_head(25088, 16)
    linears = [m for m in head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (25088, 3958), (3958, 629), (629, 100), (100, 16)]
    assert [type(m).__name__ for m in head] == [
        "Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
        "Linear"]


@pytest.mark.parametrize("arch, n_convs", [("vgg11_bn", 8), ("vgg13_bn", 10),
                                           ("vgg16_bn", 13), ("vgg19_bn", 16)])
def test_vgg_key_layout_is_torchvisions(arch, n_convs):
    keys = list(VGG(arch, 16).state_dict())
    # conv: weight+bias, bn: weight, bias, running_mean, running_var, num_batches_tracked
    assert len(keys) == n_convs * 7 + 8
    assert keys[:7] == ["features.0.weight", "features.0.bias", "features.1.weight",
                        "features.1.bias", "features.1.running_mean",
                        "features.1.running_var", "features.1.num_batches_tracked"]
    assert keys[-8:] == [f"classifier.{i}.{p}" for i in (1, 4, 7, 9) for p in ("weight", "bias")]
    assert not any(k.startswith("module.") for k in keys)


def test_official_layout_loads_exactly_and_classifies(official_models_dir, vgg_classifier):
    entry = resolve("vgg19_bn_cqt", official_models_dir)
    assert entry.source == "official" and entry.available
    assert entry.weights == official_models_dir / "vgg19_bn_cqt" / "save.pt"
    saved = torch.load(entry.weights, weights_only=True)
    loaded = vgg_classifier.model.weights().state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)

    y = 0.6 * chord(30.0) + 0.4 * groove(30.0)
    pred = vgg_classifier.classify(y, sr=22050)
    assert pred.chunk_probabilities.shape == (2, 16)
    np.testing.assert_allclose(pred.chunk_probabilities.sum(axis=1), 1.0, atol=1e-5)
    # the Classifier's answer is the network's softmax on the same tensor, averaged
    with torch.inference_mode():
        direct = torch.softmax(vgg_classifier.model.net(pred.features.inputs), 1).numpy()
    np.testing.assert_allclose(pred.chunk_probabilities, direct, atol=1e-5)
    probs = np.array(list(pred.probabilities.values()))
    np.testing.assert_allclose(probs, direct.mean(axis=0), atol=1e-5)
    assert [g.label for g in pred.top] == [CCMUSIC_GENRES[i].id
                                          for i in np.argsort(-probs)[:5]]
    assert all(a.probability >= b.probability for a, b in zip(pred.top, pred.top[1:]))
    assert pred.top[0].name("zh") == CCMUSIC_GENRES[int(np.argmax(probs))].zh
    assert set(pred.timings) == {"decode", "features", "network", "total"}
    assert pred.majority.label in pred.probabilities
    assert len(pred.images) == 2 and pred.images[0].shape == (369, 496, 3)
    json.dumps(pred.to_dict("zh"), ensure_ascii=False)


def test_ambiguous_warning_with_random_weights(vgg_classifier):
    pred = vgg_classifier.classify(chord(12.0), sr=22050)
    assert pred.top[0].probability < 0.6
    assert "ambiguous" in {w.code for w in pred.warnings}


def test_missing_checkpoint_message(tmp_path):
    with pytest.raises(GenrescopeError) as err:
        Classifier.load("vgg16_bn_mel", models_dir=tmp_path)
    message = str(err.value)
    assert str((tmp_path / "vgg16_bn_mel" / "save.pt").resolve()) in message
    assert "ccmusic-database" in message and "music_genre" in message
    assert "musicnn" in message                       # which models work without it
    assert err.value.status == 404


def test_models_dir_from_environment(official_models_dir, monkeypatch):
    monkeypatch.setenv("GENRESCOPE_MODELS", str(official_models_dir))
    entries = {e.name: e for e in find_models()}
    assert entries["vgg19_bn_cqt"].available
    assert not entries["vgg19_bn_mel"].available
    assert {"vgg11_bn_cqt", "vgg13_bn_mel", "vgg16_bn_cqt"} <= set(entries)


def _official_dir(tmp_path, state, name="vgg11_bn_cqt"):
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    torch.save(state, tmp_path / name / "save.pt")
    return tmp_path


def test_wrong_keys_are_named(tmp_path):
    state = VGG("vgg11_bn", 16).state_dict()
    state = {("module." + k if k.startswith("classifier.9") else k): v for k, v in state.items()}
    with pytest.raises(GenrescopeError) as err:
        Classifier.load("vgg11_bn_cqt", models_dir=_official_dir(tmp_path, state))
    message = str(err.value)
    assert "2 missing keys (classifier.9.weight, classifier.9.bias)" in message
    assert "2 unexpected keys (module.classifier.9.weight, module.classifier.9.bias)" in message


def test_other_architecture_or_label_count_is_named(tmp_path):
    with pytest.raises(GenrescopeError, match="missing keys"):
        Classifier.load("vgg11_bn_cqt",
                        models_dir=_official_dir(tmp_path, VGG("vgg13_bn", 16).state_dict()))
    with pytest.raises(GenrescopeError, match=r"8 tensors have other shapes \(classifier.1.weight \(3503, 25088\) \(expected \(3958, 25088\)\)"):
        Classifier.load("vgg11_bn_cqt",
                        models_dir=_official_dir(tmp_path, VGG("vgg11_bn", 10).state_dict()))


def test_code_in_a_pickle_is_refused_not_run(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "vgg11_bn_cqt").mkdir()
    with open(tmp_path / "vgg11_bn_cqt" / "save.pt", "wb") as f:
        pickle.dump({"features.0.weight": Evil()}, f)
    with pytest.raises(GenrescopeError, match="Refused to load"):
        Classifier.load("vgg11_bn_cqt", models_dir=tmp_path)
    assert not marker.exists()


def test_truncated_checkpoint(tmp_path):
    _official_dir(tmp_path, {"w": torch.zeros(1000)})
    path = tmp_path / "vgg11_bn_cqt" / "save.pt"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(GenrescopeError, match="damaged"):
        Classifier.load("vgg11_bn_cqt", models_dir=tmp_path)


def test_unknown_model_and_bad_config(tmp_path):
    with pytest.raises(GenrescopeError, match="Unknown model 'nope'") as err:
        Classifier.load("nope", models_dir=tmp_path)
    assert err.value.status == 404
    bundle = tmp_path / "mine"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"architecture": "vgg11_bn"}))
    with pytest.raises(GenrescopeError, match="lacks the field"):
        Classifier.load(bundle)
    (bundle / "config.json").write_text("{not json")
    with pytest.raises(GenrescopeError, match="not valid JSON"):
        Classifier.load(bundle)


def test_config_is_typed_and_validated(tmp_path):
    """config.json is read once into a BundleConfig: an unknown key or a value of
    the wrong type is refused with a message naming the bundle and the key."""
    from genrescope.models.config import AMBIGUOUS_BELOW, BundleConfig
    from genrescope.models.registry import resolve

    bundle = tmp_path / "mine"
    bundle.mkdir()
    good = {"name": "mine", "architecture": "vgg11_bn", "labels": ["a", "b"]}
    for bad, words in (({**good, "labels_typo": []}, "labels_typo: unknown key"),
                       ({**good, "calibration": {"unsure_below": "high"}},
                        "calibration.unsure_below"),
                       ({**good, "calibration": {"temperature": -1}}, "temperature"),
                       ({**good, "output": "relu"}, "output"),
                       ({**good, "labels": []}, "labels")):
        (bundle / "config.json").write_text(json.dumps(bad))
        with pytest.raises(GenrescopeError, match=words) as err:
            Classifier.load(bundle)
        assert str(bundle / "config.json") in str(err.value)
    config = BundleConfig.parse(good)
    assert config.calibration.unsure_below == AMBIGUOUS_BELOW and config.not_music is None
    assert config.scores_sum_to_one and config.raw == good
    # the registry reads a bundle's config once per version of the file
    (bundle / "config.json").write_text(json.dumps(good))
    assert resolve(bundle).config is resolve(bundle).config
    (bundle / "config.json").write_text(json.dumps({**good, "display_name": "Mine"}))
    os.utime(bundle / "config.json", ns=(1, 1))
    assert resolve(bundle).config.display_name == "Mine"


def test_model_families_come_from_one_table():
    from genrescope.models.registry import FAMILIES, model_family
    from genrescope.models.vgg import PLANS

    for architecture in [*FAMILIES, *PLANS]:
        assert model_family(architecture).__name__ in ("VggImageModel", FAMILIES.get(
            architecture, ("", ""))[1])
    with pytest.raises(GenrescopeError, match="unknown architecture 'nope'"):
        model_family("nope")


def test_user_bundle_with_safetensors(tmp_path):
    from safetensors.torch import save_file

    from genrescope.features import ImageSpec

    bundle = tmp_path / "my_vgg"
    bundle.mkdir()
    net = VGG("vgg11_bn", 3)
    save_file(net.state_dict(), str(bundle / "model.safetensors"))
    (bundle / "config.json").write_text(json.dumps({
        "name": "my_vgg", "architecture": "vgg11_bn", "labels": ["a_b", "c", "d"],
        "label_names": {"a_b": {"en": "Alpha beta", "zh": "阿尔法"}},
        "representation": ImageSpec(type="mel").to_dict()}))
    clf = Classifier.load(bundle, precision="fp32")   # not a test of the int8 check
    pred = clf.classify(chord(4.0), sr=22050, top_k=3)
    assert {g.label for g in pred.top} == {"a_b", "c", "d"}
    names = {g.label: (g.name("en"), g.name("zh")) for g in pred.top}
    assert names["a_b"] == ("Alpha beta", "阿尔法") and names["c"] == ("C", "C")
    assert pred.features.kind == "mel"
    assert set(PLANS) >= {"vgg11_bn"}


def test_int8_option(official_models_dir):
    from genrescope.models.quantize import int8_supported

    if not int8_supported():
        pytest.skip("this torch build has no x86 int8 engine")
    clf = Classifier.load("vgg19_bn_cqt", models_dir=official_models_dir, precision="int8")
    assert clf.model.precision == "int8"
    assert any("quantized" in type(m).__module__ for m in clf.model.int8.modules())
    pred = clf.classify(0.5 * chord(15.0) + 0.5 * groove(15.0), sr=22050)
    assert np.isfinite(pred.chunk_probabilities).all()
    np.testing.assert_allclose(pred.chunk_probabilities.sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(GenrescopeError, match="runs in fp32, not int8"):
        Classifier.load("musicnn_genres", precision="int8")


def test_auto_precision_follows_the_int8_check(official_models_dir, monkeypatch, tmp_path,
                                              capsys):
    """"auto" takes int8 only for a checkpoint that passed the check, which never
    runs inside loading (float32 until then: a first answer in seconds), runs
    once per checkpoint file where the user sees it (``models --check-int8``)
    and is then read from the cache."""
    from genrescope.models import quantize
    from genrescope.models.vgg import VggImageModel

    if not quantize.int8_supported():
        pytest.skip("this torch build has no x86 int8 engine")
    monkeypatch.setenv("GENRESCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(quantize, "N_CHECK_CLIPS", 8)
    monkeypatch.setattr(quantize, "MIN_AGREEMENT", 0.0)
    runs = []
    check = VggImageModel._check_int8
    monkeypatch.setattr(VggImageModel, "_check_int8", lambda self: runs.append(1) or check(self))

    clf = Classifier.load("vgg19_bn_cqt", models_dir=official_models_dir)
    assert runs == [] and clf.model.precision == "fp32" and clf.model.int8 is None
    assert clf.model.int8_check is None                         # not checked yet: float32

    assert main(["models", "--check-int8", "vgg19_bn_cqt",
                 "--models-dir", str(official_models_dir)]) == 0
    out, err = capsys.readouterr()
    assert "agreed with float32 on 8 of 8 clips" in out and "checking int8" in err
    clf = Classifier.load("vgg19_bn_cqt", models_dir=official_models_dir)
    assert runs == [1] and clf.model.precision == "int8" and clf.model.int8 is not None
    assert clf.model.int8_check.n == 8
    assert len(list((tmp_path / "cache" / "precision").glob("*.json"))) == 1
    assert len(list((tmp_path / "cache" / "precision").glob("*.int8.pt"))) == 1

    # the calibrated int8 network is cached too: no second calibration, same outputs
    monkeypatch.setattr(quantize, "calibration_audio", lambda sr: pytest.fail("recalibrated"))
    again = Classifier.load("vgg19_bn_cqt", models_dir=official_models_dir, precision="int8")
    x = clf.model.features(0.5 * chord(12.0) + 0.5 * groove(12.0)).inputs
    with torch.inference_mode():
        assert torch.equal(clf.model(x), again.model(x))

    # cached: no second check; the same counts now fall short of a higher bar
    monkeypatch.setattr(quantize, "MIN_AGREEMENT", 1.01)
    clf = Classifier.load("vgg19_bn_cqt", models_dir=official_models_dir)
    assert runs == [1] and clf.model.precision == "fp32" and clf.model.int8 is None
    assert clf.model.int8_check.n == 8
    # a GPU never gets int8, and fp32 asked for is fp32 without a check
    assert clf.model.default_precision("cuda") == "fp32"

    # another file (or the same file changed) is checked anew
    other = tmp_path / "save.pt"
    other.write_bytes(b"x")
    key = quantize._cache_stem(other)
    os.utime(other, ns=(1, 1))
    assert quantize._cache_stem(other) != key


def test_agreement_stops_once_the_bar_is_out_of_reach():
    from genrescope.models.quantize import agreement

    x = torch.arange(40.0).view(20, 2)
    flip = lambda v: v.flip(1)                                      # noqa: E731
    same = agreement(lambda v: v, lambda v: v, x, batch_size=4)
    assert (same.n, same.agreed, same.passed) == (20, 20, True)
    stopped = agreement(lambda v: v, flip, x, batch_size=4, stop_below=0.99)
    assert (stopped.n, stopped.agreed, stopped.passed) == (4, 0, False)
    assert stopped.max_probability_diff > 0.4


def test_baseline_network_builds_as_the_official_app_and_loads_the_same_weights(
        official_models_dir, vgg_classifier):
    from reference import official_network

    net = official_network(official_models_dir / "vgg19_bn_cqt" / "save.pt")
    assert not net.training
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        np.testing.assert_allclose(net(x).numpy(), vgg_classifier.model.net(x).numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_the_server_says_which_model_is_being_prepared(monkeypatch):
    """While a model loads, the pool (and so /api/v1/models and /healthz) says so."""
    import threading

    from genrescope.server import service

    started, release = threading.Event(), threading.Event()

    def slow_load(name, **kwargs):
        started.set()
        release.wait(30)
        return object()

    monkeypatch.setattr(service.Classifier, "load", staticmethod(slow_load))
    pool = service.ModelPool()
    loader = threading.Thread(target=pool.get)
    loader.start()
    assert started.wait(30)
    assert pool.preparing() and not pool.loaded()
    release.set()
    loader.join(30)
    assert not pool.preparing() and len(pool.loaded()) == 1
