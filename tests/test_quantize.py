"""int8 machinery: the engine is set only around packing; quantize.py does not
import the model families (no vgg <-> quantize cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from genrescope.models import quantize
from genrescope.models.vgg import VGG


def _net_and_inputs():
    """A small VGG (narrow head, 32 px inputs): the int8 path of the real one, cheaply."""
    torch.manual_seed(0)
    net = VGG("vgg11_bn", 4, head_widths=(64, 32, 16)).eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    return net, x


@pytest.mark.skipif(not quantize.int8_supported(), reason="no x86 int8 engine in this torch")
@pytest.mark.skipif("qnnpack" not in torch.backends.quantized.supported_engines,
                    reason="needs a second int8 engine to tell them apart")
def test_engine_is_set_around_packing_and_restored(monkeypatch, tmp_path):
    net, x = _net_and_inputs()
    monkeypatch.setattr(torch.backends.quantized, "engine", quantize.ENGINE)
    with torch.inference_mode():
        expected = quantize.quantize_vgg(net, x[:2])(x)

    monkeypatch.setattr(torch.backends.quantized, "engine", "qnnpack")
    int8 = quantize.quantize_vgg(net, x[:2])
    assert torch.backends.quantized.engine == "qnnpack"          # the process's choice stays
    with torch.inference_mode():
        torch.testing.assert_close(int8(x), expected, rtol=0, atol=0)

    # the cached int8 network is loaded (and packed) with the x86 engine too
    weights = tmp_path / "save.pt"
    torch.save(net.state_dict(), weights)
    quantize.save_int8(int8, weights)
    loaded = quantize.load_int8(net, weights)
    assert loaded is not None and torch.backends.quantized.engine == "qnnpack"
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), expected, rtol=0, atol=0)


def test_quantized_engine_restores_after_an_error(monkeypatch):
    monkeypatch.setattr(torch.backends.quantized, "engine", "qnnpack")
    with pytest.raises(RuntimeError):
        with quantize.quantized_engine("x86"):
            assert torch.backends.quantized.engine == "x86"
            raise RuntimeError("boom")
    assert torch.backends.quantized.engine == "qnnpack"


def test_quantize_module_does_not_import_the_vgg_family():
    """No import of vgg.py anywhere in quantize.py, not even inside a function
    (vgg.py imports quantize.py where it needs int8)."""
    tree = ast.parse(Path(quantize.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            imported |= {base} | {f"{base}.{a.name}".replace("..", ".") for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    assert "..cache" in imported                     # the walk sees quantize's imports
    assert not {m for m in imported if m.rstrip(".").endswith("vgg") or ".vgg." in m
                or m in (".vgg", "genrescope.models.vgg")}, sorted(imported)
