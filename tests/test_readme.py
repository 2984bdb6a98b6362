"""Every command of the README's "What it does" block runs, as written, after `make install`.

The one exception is `--device cuda` on a machine without CUDA, which must fail with its one-line message.
`my_net.yaml` is the README's placeholder for the reader's own spec: the test writes one.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"

MY_NET = """\
input: 3x64x64
vars: {num_classes: 5}
layers:
  - conv: {out: 16, k: 3, pad: 1}
  - relu
  - maxpool: {k: 2}
  - gap
  - flatten
  - fc: $num_classes
"""


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## What it does", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for raw in block.splitlines():
        line = re.sub(r"\s+#.*$", "", raw).strip()
        if not line or line.startswith("#"):
            continue
        commands += [c.strip() for c in line.split(";") if c.strip()]
    return commands


def test_the_block_is_found() -> None:
    commands = readme_commands()
    assert len(commands) >= 18 and all(c.startswith("archcalc ") for c in commands)


@pytest.mark.slow
@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command: str, cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_net.yaml").write_text(MY_NET)
    argv = shlex.split(command)[1:]
    needs_torch = argv[0] in ("verify", "bench", "train", "export") or "--effective" in argv
    if needs_torch:
        torch = pytest.importorskip("torch")
    if "--device" in argv and argv[argv.index("--device") + 1] == "cuda":
        if torch.cuda.is_available():
            pytest.skip("a CUDA machine: the benchmark itself is the device check's business")
        code, _, err = cli_main(*argv)
        assert code == 2 and err.count("\n") == 1 and "without CUDA" in err, err
        return
    code, _, err = cli_main(*argv)
    assert code == 0, f"{command}: exit {code}\n{err[-2000:]}"
    if "-o" in argv:
        assert (tmp_path / argv[argv.index("-o") + 1]).stat().st_size > 0
    if "--effective" in argv:
        assert (tmp_path / "resnet50-erf.png").exists()
