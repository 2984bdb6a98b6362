"""The layer types of CNNs after 2016, against the formulas of their papers and of PyTorch's docs.

Each expected value is written as the arithmetic it comes from; symbolic = torch for every type is
checked by the property tests (tests/test_properties_torch.py).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.conftest import analyse_text


def test_squeeze_excitation_gate() -> None:
    # Hu et al. 2018, Sec. 3.2 / Eq. 3: s = σ(W2 δ(W1 z)), W1 ∈ R^{C/r×C}, W2 ∈ R^{C×C/r}; the
    # block adds 2C²/r weights (Sec. 4 counts no biases), here with C = 64, r = 16
    a = analyse_text("""
        input: 64x14x14
        layers:
          - mul:
              - [gap, {conv: {out: 4, k: 1, bias: false}}, relu, {conv: {out: 64, k: 1, bias: false}}, sigmoid]
              - []
            name: se
    """)
    assert a.totals.weights == 2 * 64 * 64 // 16
    se = a.results["se"]
    assert se.shape == (64, 14, 14)
    assert se.cost.ops == 64 * 14 * 14  # one multiply per element
    # the gate brings context from the whole map; the field itself is the local one
    assert se.rf is not None and se.rf.size == (1, 1) and se.rf.context
    assert se.rf_note is not None and "global context" in se.rf_note


def test_transposed_convolution_size_params_and_macs() -> None:
    # PyTorch ConvTranspose2d docs: H_out = (H_in − 1)·s − 2p + d(k − 1) + output_padding + 1.
    # U-Net's up-convolution (Ronneberger et al. 2015, Fig. 1): 1024 → 512 channels, 2×2, stride 2.
    a = analyse_text("""
        input: 1024x28x28
        layers: [{conv_transpose: {out: 512, k: 2, s: 2, name: up}}]
    """)
    up = a.results["up"]
    assert up.shape == (512, (28 - 1) * 2 - 0 + 1 * (2 - 1) + 0 + 1, 56)
    assert up.params.weights == 1024 * 512 * 2 * 2 and up.params.biases == 512
    assert up.cost.macs == 1024 * 512 * 2 * 2 * 28 * 28  # per input position, as fvcore counts it
    b = analyse_text("input: 8x7x7\nlayers: [{conv_transpose: {out: 4, k: 3, s: 2, pad: 1, output_padding: 1}}]")
    assert b.output.shape == (4, (7 - 1) * 2 - 2 * 1 + (3 - 1) + 1 + 1, 14)


def _reads_nearest(o: int, scale: int) -> int:
    """PyTorch's nearest upsampling reads input floor(o / scale) (scale factor given)."""
    return o // scale


def test_nearest_upsampling_field_is_exact_per_unit() -> None:
    a = analyse_text("""
        input: 1x8x8
        layers: [{conv: {out: 1, k: 3, name: c}}, {upsample: {scale: 2}, name: up}]
    """)
    rf = a.results["up"].rf
    assert rf is not None and rf.jump == (Fraction(1, 2), Fraction(1, 2))
    for o in range(12):
        i = _reads_nearest(o, 2)  # the conv unit read; a 3×3 conv unit i sees pixels i..i+2
        assert rf.region(o, o)[0] == (i, i + 2), o


def test_bilinear_upsampling_reads_two_neighbours() -> None:
    # align_corners=False: src = (o + ½)/s − ½, reading floor(src) and floor(src) + 1 (PyTorch docs)
    a = analyse_text("input: 1x6x6\nlayers: [{upsample: {scale: 2, mode: bilinear}, name: up}]")
    rf = a.results["up"].rf
    assert rf is not None
    for o in range(1, 11):  # away from the clamped borders
        src = (o + 0.5) / 2 - 0.5
        lo = int(src // 1)
        first, last = rf.region(o, o)[0]
        assert first <= lo and lo + 1 <= last, (o, first, last)  # the field holds both neighbours


def test_upsample_to_a_size_and_pixel_shuffle() -> None:
    a = analyse_text("input: 16x7x7\nlayers: [{upsample: {size: [224, 224], mode: bilinear}, name: up}]")
    assert a.results["up"].shape == (16, 224, 224)
    assert a.results["up"].cost.ops == 4 * 16 * 224 * 224  # fvcore: 4 per output element
    b = analyse_text("input: 32x8x8\nlayers: [{pixel_shuffle: 2, name: ps}]")
    assert b.results["ps"].shape == (32 // (2 * 2), 8 * 2, 8 * 2)  # Shi et al. 2016: C·r²×H×W → C×rH×rW


def test_unet_copy_and_crop() -> None:
    # Ronneberger et al. 2015, Fig. 1: the first level's 64×568×568 map is cropped to 392×392 and
    # concatenated with the 64 up-convolved maps of the level below
    a = analyse_text("""
        input: 64x568x568
        layers:
          - concat:
              - [{crop: {size: 392, name: crop}}]
              - [{maxpool: 2}, {conv: {out: 128, k: 3}}, {conv: {out: 128, k: 3}}, {crop: 196},
                 {conv_transpose: {out: 64, k: 2, s: 2}}]
            name: merge
    """)
    assert a.results["b1.crop"].shape == (64, 392, 392)
    assert a.results["merge"].shape == (128, 392, 392)
    # the crop keeps the centre: (568 − 392)/2 = 88 rows dropped on top
    crop_rf = a.results["b1.crop"].rf
    assert crop_rf is not None and crop_rf.start == (88, 88)


def test_shufflenet_split_unit() -> None:
    # Ma et al. 2018, Fig. 3(c): channel split in two, one half through 1×1, 3×3 depthwise, 1×1, concat,
    # channel shuffle; with 116 channels: 58 + 58
    a = analyse_text("""
        input: 116x28x28
        layers:
          - concat:
              - []
              - [{conv: {out: 58, k: 1, bias: false}}, bn, relu,
                 {conv: {out: 58, k: 3, pad: 1, groups: 58, bias: false}}, bn,
                 {conv: {out: 58, k: 1, bias: false}}, bn, relu]
            split: 2
            name: unit
          - channel_shuffle: 2
    """)
    assert a.results["b1.split1"].shape == (58, 28, 28)
    assert a.results["unit"].shape == (116, 28, 28)
    assert a.totals.weights == 58 * 58 + 58 * 9 + 58 * 58 + 3 * 58  # two 1×1, one depthwise, bn γ


def test_layer_norm_over_channels_and_layer_scale() -> None:
    # ConvNeXt (Liu et al. 2022): LayerNorm over C at each position (2C parameters), γ of C values
    a = analyse_text("""
        input: 96x56x56
        layers:
          - layer_norm: {eps: 1.0e-6, name: ln}
          - fc: {out: 384, per_position: true, name: pw1}
          - gelu
          - fc: {out: 96, per_position: true, name: pw2}
          - layer_scale: {name: gamma}
    """)
    assert a.results["ln"].params.total == 2 * 96
    assert a.results["pw1"].shape == (384, 56, 56)
    assert a.results["pw1"].cost.macs == 96 * 384 * 56 * 56  # a 1×1 convolution's count
    assert a.results["gamma"].params.total == 96


def test_stochastic_depth_is_free_at_inference() -> None:
    a = analyse_text("input: 8x4x4\nlayers: [{conv: {out: 8, k: 1}}, {stochastic_depth: 0.2, name: sd}]")
    sd = a.results["sd"]
    assert sd.alloc_elems == 0 and sd.cost.ops == 0
    # in training it keeps one noise value per sample: 4 bytes each in fp32
    with_sd = a.saved_bytes(batch=3)
    without = analyse_text("input: 8x4x4\nlayers: [{conv: {out: 8, k: 1}}]").saved_bytes(batch=3)
    assert with_sd - without == 3 * 4


def test_names_may_be_digits_and_dotted_as_torchvision() -> None:
    torch = pytest.importorskip("torch")
    from archcalc.backends.torch.build import build_model

    a = analyse_text("""
        input: 3x8x8
        layers:
          - {seq: [{conv: {out: 4, k: 3, name: "0"}}, {bn: {name: "1"}}], name: features.0}
          - {conv: {out: 2, k: 1, name: classifier.1}}
    """)
    model = build_model(a)
    keys = set(model.state_dict())
    assert {"features.0.0.weight", "features.0.1.running_mean", "classifier.1.weight"} <= keys
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 2, 6, 6)
    torch.jit.script(model)  # digit names are reached by indexing, which TorchScript accepts


def test_named_inputs_wire_any_graph() -> None:
    """``from:`` reads an earlier layer (or a finished group's output); a join reads several."""
    a = analyse_text("""
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, pad: 1, name: enc1}
          - maxpool: {k: 2, name: down}
          - {seq: [{conv: {out: 8, k: 3, pad: 1}}, relu], name: enc2}
          - upsample: {scale: 2, name: up}
          - concat: {from: [enc1, up], name: skip}
          - conv: {out: 4, k: 1, name: head}
          - {conv: {out: 4, k: 3, pad: 1, name: side}, from: enc2}
          - upsample: {scale: 2, name: up2}
          - add: {from: [head, up2], name: out}
    """)
    assert a.graph.node("skip").inputs == ("enc1", "up")
    assert a.graph.node("side").inputs == ("enc2.relu1",)  # a group's output is its last layer
    assert a.results["skip"].shape == (16, 16, 16)
    assert a.graph.outputs == ("out",)
    torch = pytest.importorskip("torch")
    from archcalc.backends.torch.verify import verify

    report = verify(a, batch=2)
    assert report.ok, report.failures()
    assert torch is not None
