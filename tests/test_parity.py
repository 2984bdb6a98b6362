"""``verify --against FILE.py:factory`` and ``--weights``, against hand-written torch modules (no torchvision).

The references live in ``tests/parity_models.py``, written as ordinary torch code. Each planted difference
is one edit of a spec that otherwise matches; the test asserts the layer the report names first, which is
where a reader would look, as a diff names the first differing line.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from archcalc.backends.torch.build import build_model  # noqa: E402
from archcalc.backends.torch.parity import check_against  # noqa: E402
from archcalc.backends.torch.parity_report import ParityReport, render  # noqa: E402
from archcalc.backends.torch.reference import parse_reference  # noqa: E402
from archcalc.backends.torch.weights import WeightsError, load_weights, match_state  # noqa: E402
from archcalc.errors import OptionError  # noqa: E402
from archcalc.spec import load_text  # noqa: E402

MODELS = Path(__file__).with_name("parity_models.py")

TINY = """
name: tiny
input: 3x16x16
vars: {num_classes: 10, p: 0.5}
layers:
  - conv: {out: 8, k: 3, pad: 1, bias: false, name: conv1}
  - bn: {name: bn1}
  - relu: {name: relu1}
  - maxpool: {k: 2, name: pool1}
  - conv: {out: 16, k: 3, s: 2, pad: 1, name: conv2}
  - relu: {name: relu2}
  - adaptive_avgpool: {out: 1, name: gap}
  - flatten
  - dropout: {p: $p, name: drop}
  - fc: {out: $num_classes, name: fc}
"""

#: SeqNet's layers under archcalc's own names: its keys (features.0.weight) can only be matched by structure.
PLAIN = TINY.replace("name: tiny", "name: plain").replace("name: drop}", "name: drop6}").replace(
    "name: fc}", "name: fc6}")

RESNET = """
name: tiny_resnet
input: 3x16x16
vars: {num_classes: 10}
blocks:
  basic:
    args: {width: null, s: 1, proj: false}
    body:
      - add:
          - name: residual
            seq:
              - conv: {out: $width, k: 3, s: $s, pad: 1, bias: false, name: conv1}
              - bn: {name: bn1}
              - relu: {name: relu1}
              - conv: {out: $width, k: 3, pad: 1, bias: false, name: conv2}
              - bn: {name: bn2}
          - name: shortcut
            seq:
              - conv: {out: $width, k: 1, s: $s, bias: false, name: conv, when: $proj}
              - bn: {name: bn, when: $proj}
        name: add
      - relu: {name: relu}
  stage:
    args: {width: null, s: 2}
    body:
      - basic: {width: $width, s: $s, proj: "${s != 1}", name: block1}
      - basic: {width: $width, name: block2}
layers:
  - conv: {out: 8, k: 3, pad: 1, bias: false, name: conv1}
  - bn: {name: bn1}
  - relu: {name: relu}
  - stage: {width: 8, s: 1, name: layer1}
  - stage: {width: 16, name: layer2}
  - adaptive_avgpool: {out: 1, name: avgpool}
  - flatten
  - fc: {out: $num_classes, name: fc}
"""


def _spec(text: str, **overrides: object):  # type: ignore[no-untyped-def]
    return load_text(text, "test.yaml", overrides or None)


def _against(text: str, factory: str, **kw: object) -> ParityReport:
    return check_against(_spec(text), f"{MODELS}:{factory}", **kw)  # type: ignore[arg-type]


def _first(report: ParityReport, where: str = "eval") -> str:
    first = report.first_divergent(where)
    assert first is not None, render(report)
    return first.diff.spec


def _edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


# ---- a spec that is its reference ------------------------------------------------------------------------

def test_matching_spec_passes_by_key() -> None:
    report = _against(TINY, "tiny")
    assert report.ok, render(report)
    assert report.mapping.startswith("by key")
    assert [c.name for c in report.checks] == ["weights", "eval output", "eval layers", "train loss",
                                               "train layers", "gradients", "buffers after the step"]
    compared = {d.spec for d in report.layers["eval"]}
    # parameter-free layers pair by name too; the reference has no flatten module
    assert {"conv1", "bn1", "relu1", "pool1", "conv2", "relu2", "gap", "drop", "fc"} == compared
    assert report.first_divergent() is None
    assert "✓ the spec computes the reference's function" in render(report)


def test_matching_spec_passes_by_structure() -> None:
    report = _against(PLAIN, "seqnet")
    assert report.ok, render(report)
    assert report.mapping.startswith("by structure")
    pairs = {d.spec: d.reference for d in report.layers["eval"]}
    assert pairs["conv1"] == "features.0" and pairs["bn1"] == "features.1" and pairs["fc6"] == "classifier.1"


def test_residual_spec_matches_torchvision_style_code() -> None:
    report = _against(RESNET, "tiny_resnet")
    assert report.ok, render(report)
    pairs = {d.spec: d.reference for d in report.layers["eval"]}
    assert pairs["layer2.block1.shortcut.conv"] == "layer2.0.downsample.0"
    assert pairs["layer1"] == "layer1"  # same name, same tensors: the stage's output is compared too
    assert pairs["layer1.block1"] == "layer1.0"  # a block and a container holding the same tensors


# ---- one planted difference each -------------------------------------------------------------------------

def test_swapped_stride_is_named_with_its_cause() -> None:
    spec = _edit(_edit(TINY, "pad: 1, bias: false, name: conv1", "s: 2, pad: 1, bias: false, name: conv1"),
                 "k: 3, s: 2, pad: 1, name: conv2", "k: 3, pad: 1, name: conv2")
    report = _against(spec, "tiny")
    assert not report.ok
    assert _first(report) == "conv1"
    hint = report.first_divergent("eval").hint  # type: ignore[union-attr]
    assert "8×8×8 here, 8×16×16 in the reference" in hint and "stride (2, 2) here, (1, 1)" in hint


def test_missing_relu_is_named_where_the_input_first_differs() -> None:
    report = _against(_edit(TINY, "  - relu: {name: relu1}\n", ""), "tiny")
    assert _first(report) == "pool1"
    hint = report.first_divergent("eval").hint  # type: ignore[union-attr]
    assert "the spec feeds it bn1 directly" in hint and "the reference runs relu1 (ReLU) in between" in hint


def test_average_instead_of_max_pool() -> None:
    report = _against(_edit(TINY, "maxpool: {k: 2, name: pool1}", "avgpool: {k: 2, name: pool1}"), "tiny")
    assert _first(report) == "pool1"
    assert "AvgPool2d here, MaxPool2d in the reference" in report.first_divergent().hint  # type: ignore[union-attr]


def test_different_padding() -> None:
    report = _against(_edit(TINY, "k: 3, s: 2, pad: 1, name: conv2", "k: 3, s: 2, pad: 0, name: conv2"), "tiny")
    assert _first(report) == "conv2"
    assert "padding (0, 0) here, (1, 1) in the reference" in report.first_divergent().hint  # type: ignore[union-attr]


def test_dropout_rate_shows_in_the_training_step_only() -> None:
    report = _against(TINY, "tiny,p=0.2")
    names = {c.name: c.ok for c in report.checks}
    assert names["eval output"] and names["eval layers"]  # dropout is the identity in eval mode
    assert names["train loss"] is False and names["gradients"] is False
    assert report.first_divergent("eval") is None
    assert _first(report, "train") == "drop"
    assert "p 0.5 here, 0.2 in the reference" in report.first_divergent("train").hint  # type: ignore[union-attr]


def test_pool_swap_found_by_structure_names_the_next_compared_layer() -> None:
    """Structure mapping pairs only layers with tensors: the swapped pool shows at the conv after it."""
    report = _against(_edit(PLAIN, "maxpool: {k: 2, name: pool1}", "avgpool: {k: 2, name: pool1}"), "seqnet")
    assert _first(report) == "conv2"
    hint = report.first_divergent().hint  # type: ignore[union-attr]
    assert "pool1 (avgpool)" in hint and "features.3 (MaxPool2d)" in hint


def test_shortcut_in_the_wrong_place() -> None:
    """relu(residual) + x instead of relu(residual + x): the first block's output is the first difference."""
    wrong = _edit(_edit(RESNET, "              - bn: {name: bn2}\n",
                        "              - bn: {name: bn2}\n              - relu: {name: relu2}\n"),
                  "        name: add\n      - relu: {name: relu}\n", "        name: add\n")
    report = _against(wrong, "tiny_resnet")
    assert not report.ok
    assert _first(report) == "layer1.block1"  # paired with layer1.0 by the tensors they hold
    hint = report.first_divergent().hint  # type: ignore[union-attr]
    assert "layer1.block1.residual.relu2 (relu)" in hint and "layer1.block1.add (add)" in hint


@pytest.mark.parametrize("dtype", ["fp64", "bf16"])
def test_other_precisions(dtype: str) -> None:
    report = _against(TINY, "tiny", dtype=dtype)
    assert report.ok, render(report)
    assert report.dtype == dtype
    bad = _against(_edit(TINY, "maxpool: {k: 2, name: pool1}", "avgpool: {k: 2, name: pool1}"), "tiny", dtype=dtype)
    assert _first(bad) == "pool1"


def test_against_with_weights_loads_them_into_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save(_hand("seqnet").state_dict(), path)
    report = _against(PLAIN, "seqnet", weights=path)
    assert report.ok, render(report)
    assert report.notes[0].startswith(f"reference weights from {path}")
    with pytest.raises(WeightsError, match="do not fit the reference"):
        _against(TINY, "tiny_resnet", weights=path)


def test_wrong_reference_is_a_weights_failure_naming_the_first_mismatch() -> None:
    report = _against(TINY, "tiny_resnet")
    assert [c.name for c in report.checks] == ["weights"] and not report.ok
    assert "another architecture" in report.checks[0].note and "×" in report.checks[0].note


# ---- the command -----------------------------------------------------------------------------------------

def test_cli_against_passes_and_fails(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "tiny.yaml"
    good.write_text(TINY)
    code, out, err = cli_main("verify", str(good), "--against", f"{MODELS}:tiny")
    assert code == 0, out + err
    assert "✓" in out and "✗" not in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(_edit(TINY, "maxpool: {k: 2, name: pool1}", "avgpool: {k: 2, name: pool1}"))
    code, out, err = cli_main("verify", str(bad), "--against", f"{MODELS}:tiny", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["kind"] == "parity" and doc["ok"] is False
    assert doc["first_divergent"]["eval"]["spec"] == "pool1"
    assert err.count("\n") == 1 and "first divergent layer pool1" in err


@pytest.mark.parametrize(("ref", "message"), [
    ("nonsense", "expected torchvision:NAME"),
    ("tests/nowhere.py:tiny", "no file"),
    (f"{MODELS}:tinny", "did you mean tiny?"),
    (f"{MODELS}:not_a_module", "not a torch.nn.Module"),
    (f"{MODELS}:tiny,bogus=1", "unexpected keyword"),
    ("torchvision:resnet18,weights='DEFAULT'", "never downloads weights"),
    ("no_such_package_xyz.models:net", "cannot import"),
    (f"{MODELS}:fails_in_training", "the reference fails in training mode on a batch of 2: boom"),
])
def test_cli_bad_reference_is_one_line(cli_main, tmp_path: Path, ref: str, message: str) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    code, out, err = cli_main("verify", str(spec), "--against", ref)
    assert code == 2, out + err
    assert message in err and err.count("\n") == 1


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed here")
def test_torchvision_missing_is_one_line(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli_main("verify", "resnet18_tv", "--against", "torchvision:resnet18")
    assert code == 2 and "torchvision cannot be imported" in err and err.count("\n") == 1


def test_reference_arguments_are_literals() -> None:
    ref = parse_reference("torchvision:googlenet,aux_logits=False,num_classes=10,dropout=0.3,name=abc")
    assert (ref.kind, ref.factory) == ("torchvision", "googlenet")
    assert ref.kwargs == {"aux_logits": False, "num_classes": 10, "dropout": 0.3, "name": "abc"}
    assert parse_reference("x.py:make,f=__import__('os')").kwargs == {"f": "__import__('os')"}  # a string, never run
    assert parse_reference("pkg.mod:make").kind == "module"
    assert parse_reference("C:/dir/net.py:make").where == "C:/dir/net.py"
    with pytest.raises(OptionError):
        parse_reference("torchvision:resnet18,pretrained=True")
    with pytest.raises(OptionError):
        parse_reference("x.py:make,=3")


# ---- --weights --------------------------------------------------------------------------------------------

def _hand(factory: str) -> nn.Module:
    spec = importlib.util.spec_from_file_location("_parity_models_for_test", MODELS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that torch.save can pickle a whole module in the refusal test
    spec.loader.exec_module(module)
    torch.manual_seed(3)
    model: nn.Module = getattr(module, factory)()
    with torch.no_grad():  # trained-looking weights and statistics: nothing left at its initial constant
        for t in model.parameters():
            t.copy_(torch.randn_like(t) * 0.3)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)  # type: ignore[operator]
                m.running_var.uniform_(0.5, 1.5)  # type: ignore[operator]
    return model.eval()


def _same_outputs(spec_text: str, factory: str, path: Path) -> None:
    reference = _hand(factory)
    model = build_model(_spec(spec_text))
    smap = load_weights(model, path)
    model.eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x)), smap.describe()


@pytest.mark.parametrize(("spec_text", "factory", "by"), [(TINY, "tiny", "key"), (PLAIN, "seqnet", "structure"),
                                                          (RESNET, "tiny_resnet", "structure")])
def test_weights_round_trip(tmp_path: Path, spec_text: str, factory: str, by: str) -> None:
    path = tmp_path / "w.pth"
    torch.save(_hand(factory).state_dict(), path)
    _same_outputs(spec_text, factory, path)
    assert load_weights(build_model(_spec(spec_text)), path).by == by


def test_weights_nested_prefixed_and_safetensors(tmp_path: Path) -> None:
    state = _hand("tiny").state_dict()
    nested = tmp_path / "nested.pt"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, nested)
    _same_outputs(TINY, "tiny", nested)
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "w.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    _same_outputs(TINY, "tiny", path)


def test_old_checkpoint_without_batch_counters(tmp_path: Path) -> None:
    state = {k: v for k, v in _hand("seqnet").state_dict().items() if "num_batches_tracked" not in k}
    path = tmp_path / "old.pth"
    torch.save(state, path)
    _same_outputs(PLAIN, "seqnet", path)


def test_weights_of_another_architecture_is_one_line(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "resnet.pth"
    torch.save(_hand("tiny_resnet").state_dict(), path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    code, _, err = cli_main("export", str(spec), "--weights", str(path), "-o", str(tmp_path / "t.pt2"))
    assert code == 2 and err.count("\n") == 1, err
    # conv1, bn1 and fc share names; the rest pair in order, and the first pair already differs
    assert "another architecture" in err
    assert "checkpoint layer1.0.conv1.weight 8×8×3×3 and spec conv2.weight 16×8×3×3" in err


def test_weights_with_another_class_count_lists_the_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save(_hand("tiny").state_dict(), path)
    with pytest.raises(WeightsError, match=r"shape mismatches: fc.weight \(checkpoint 10×16, spec 5×16\)"):
        load_weights(build_model(_spec(TINY, num_classes=5)), path)


def test_weights_missing_and_unexpected_keys_are_listed() -> None:
    target = {"a.weight": torch.zeros(2, 2), "b.weight": torch.zeros(3), "c.weight": torch.zeros(1)}
    source = {"a.weight": torch.zeros(2, 2), "b.weight": torch.zeros(3), "d.bias": torch.zeros(4)}
    expected = r"missing from the checkpoint: c\.weight; unexpected in the checkpoint: d\.bias"
    with pytest.raises(WeightsError, match=expected):
        match_state(target, source)


def test_weights_refuses_pickled_code(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(_hand("tiny"), path)  # the module object, not its state dict
    with pytest.raises(WeightsError, match="holds Python objects"):
        load_weights(build_model(_spec(TINY)), path)


@pytest.mark.parametrize("command", [
    ["export", "--format", "pt2", "-o", "{out}"],
    ["verify", "--no-rf", "--no-fvcore"],
    ["rf", "--effective"],
    ["bench", "--iters", "1", "--warmup", "0", "--batch", "1"],
])
def test_every_command_takes_weights(cli_main, tmp_path: Path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    good = tmp_path / "w.pth"
    torch.save(_hand("tiny").state_dict(), good)
    bad = tmp_path / "bad.pth"
    torch.save(_hand("tiny_resnet").state_dict(), bad)
    args = [a.replace("{out}", str(tmp_path / "t.pt2")) for a in command]
    code, out, err = cli_main(args[0], str(spec), *args[1:], "--weights", str(good))
    assert code == 0, out + err
    code, out, err = cli_main(args[0], str(spec), *args[1:], "--weights", str(bad))
    errors = [line for line in err.splitlines() if not line.startswith("warning:")]  # bench may warn of a busy CPU
    assert code == 2 and len(errors) == 1 and "another architecture" in errors[0], out + err


def test_exported_model_carries_the_weights(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "plain.yaml"
    spec.write_text(PLAIN)
    path = tmp_path / "w.pth"
    reference = _hand("seqnet")
    torch.save(reference.state_dict(), path)
    out_file = tmp_path / "plain.pt2"
    code, _, err = cli_main("export", str(spec), "--weights", str(path), "-o", str(out_file))
    assert code == 0, err
    exported = torch.export.load(str(out_file)).module()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(exported(x), reference(x), rtol=0, atol=1e-6)


def test_train_starts_from_weights(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    path = tmp_path / "w.pth"
    torch.save(_hand("tiny").state_dict(), path)
    base = ["train", str(spec), "--data", "synthetic", "--epochs", "1", "--device", "cpu", "--batch", "32"]
    code, out, err = cli_main(*base, "--run-dir", str(tmp_path / "r"), "--weights", str(path))
    assert code == 0, out + err
    assert f"weights from {path}: matched by key" in out
    code, out, err = cli_main(*base, "--weights", str(path), "--resume", str(tmp_path / "r" / "last.pt"))
    assert code == 2 and "not both" in out + err
