"""RegNet (specs/regnet.yaml): one generator spec, torchvision's fifteen builders as variants.

Golden figures measured with the independent reference, never with archcalc:
- parameters: torchvision 0.29.1, ``sum(p.numel() for p in regnet_*(weights=None).parameters())``;
- conv+linear multiply-adds: fvcore 0.1.5 ``FlopCountAnalysis(model.eval(), torch.randn(1, 3, 224, 224))
  .by_operator()``, ``conv`` + ``linear``;
- stage widths, depths and group widths: torchvision 0.29.1 ``BlockParams.from_init_params(...)``
  (``widths``, ``depths``, ``group_widths``), with each builder's arguments;
- state_dict keys: ``list(regnet_*(weights=None).state_dict())`` (first, last, count).
The by-key output comparison against torchvision itself runs in tests/test_parity_torchvision.py
(``make parity``); measured there and by hand: outputs identical (max difference 0) for all fifteen at 64×64.
"""

from __future__ import annotations

import pytest

from archcalc.analysis import analyze
from archcalc.analysis.published import metric_value
from archcalc.spec import load

#: variant → (torchvision 0.29.1 parameters, fvcore conv+linear MACs at 224×224)
GOLDEN = {
    "regnet_y_400mf": (4_344_144, 401_842_848),
    "regnet_y_800mf": (6_432_512, 833_856_256),
    "regnet_y_1_6gf": (11_202_430, 1_612_076_160),
    "regnet_y_3_2gf": (19_436_338, 3_176_482_752),
    "regnet_y_8gf": (39_381_472, 8_473_070_592),
    "regnet_y_16gf": (83_590_140, 15_911_510_272),
    "regnet_y_32gf": (145_046_770, 32_279_552_832),
    "regnet_y_128gf": (644_812_894, 127_517_815_680),
    "regnet_x_400mf": (5_495_976, 413_812_608),
    "regnet_x_800mf": (7_259_656, 799_699_712),
    "regnet_x_1_6gf": (9_190_136, 1_602_849_792),
    "regnet_x_3_2gf": (15_296_552, 3_176_621_952),
    "regnet_x_8gf": (39_572_648, 7_995_132_416),
    "regnet_x_16gf": (54_278_536, 15_940_755_456),
    "regnet_x_32gf": (107_811_560, 31_735_929_792),
}

#: variant → torchvision 0.29.1 BlockParams.from_init_params: (widths, depths, group_widths)
STAGES = {
    "regnet_y_400mf": ([48, 104, 208, 440], [1, 3, 6, 6], [8, 8, 8, 8]),
    "regnet_y_8gf": ([224, 448, 896, 2016], [2, 4, 10, 1], [56, 56, 56, 56]),
    "regnet_y_128gf": ([528, 1056, 2904, 7392], [2, 7, 17, 1], [264, 264, 264, 264]),
    "regnet_x_400mf": ([32, 64, 160, 400], [1, 2, 7, 12], [16, 16, 16, 16]),
    "regnet_x_8gf": ([80, 240, 720, 1920], [2, 5, 15, 1], [80, 120, 120, 120]),  # group width 120 > 80
    "regnet_x_32gf": ([336, 672, 1344, 2520], [2, 7, 13, 1], [168, 168, 168, 168]),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_params_and_macs_equal_torchvision_and_fvcore(name: str) -> None:
    a = analyze(load(name))
    params, macs = GOLDEN[name]
    assert metric_value(a, "params") == params
    assert metric_value(a, "conv_fc_macs") == macs
    assert a.output.name == "fc" and tuple(a.output.shape) == (1000,)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_the_generator_gives_torchvisions_stages(name: str) -> None:
    """Widths from the expressions in float64 equal torchvision's (computed in float32 with torch)."""
    variables = load(name).meta.variables
    assert (variables["stage_w"], variables["stage_d"], variables["stage_g"]) == STAGES[name]


def test_the_papers_rounding_is_one_setting_away() -> None:
    """width_rounding=pycls rounds halves to even, as the authors' code: RegNetX-400MF's last stage is
    384 wide (392/16 = 24.5 groups → 24), torchvision's 400 (→ 25)."""
    assert load("regnet_x_400mf").meta.variables["stage_w"][-1] == 400
    assert load("regnet_x_400mf", {"width_rounding": "pycls"}).meta.variables["stage_w"][-1] == 384


def test_state_dict_keys_are_torchvisions() -> None:
    torch = pytest.importorskip("torch")
    from archcalc.analysis import Analysis
    from archcalc.backends.torch.build import build_model

    model = build_model(Analysis(load("regnet_y_400mf", input_shape=(3, 32, 32))))
    keys = list(model.state_dict())
    # torchvision 0.29.1 regnet_y_400mf(): 384 keys, from stem.0.weight to fc.bias
    assert len(keys) == 384
    assert keys[:2] == ["stem.0.weight", "stem.1.weight"]
    assert keys[-3:] == ["trunk_output.block4.block4-5.f.c.1.num_batches_tracked", "fc.weight", "fc.bias"]
    assert keys[keys.index("trunk_output.block2.block2-0.proj.0.weight") + 6] == \
        "trunk_output.block2.block2-0.f.a.0.weight"  # the projection is registered before f, as torchvision's
    assert "trunk_output.block1.block1-0.f.se.fc1.bias" in keys
    assert sum(p.numel() for p in model.parameters()) == GOLDEN["regnet_y_400mf"][0]
    with torch.no_grad():
        assert tuple(model.eval()(torch.randn(1, 3, 32, 32)).shape) == (1, 1000)
