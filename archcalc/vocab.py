"""The closed vocabularies every command and backend shares: one list each, written once.

Data types and their sizes, optimizers and how many copies of the parameters their state holds,
training precisions, devices and weight-initialisation schemes. Torch-free, so the symbolic commands
can offer the same choices the backend accepts.
"""

from __future__ import annotations

#: bytes per element of an activation dtype (names as users write them)
DTYPE_BYTES: dict[str, int] = {
    "fp32": 4, "float32": 4, "fp16": 2, "float16": 2, "half": 2, "bf16": 2, "bfloat16": 2,
    "fp64": 8, "float64": 8, "int8": 1, "fp8": 1,
}

#: optimizer → copies of the trainable parameters its state holds (SGD 0, momentum 1, Adam 2)
OPTIMIZER_STATE: dict[str, int] = {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 1, "adam": 2, "adamw": 2}
OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZER_STATE)

#: precisions the torch backend runs → the activation dtype the memory model counts them at.
#: tf32 is fp32 storage with tensor-core matmuls (CUDA); bf16 and fp16 run under autocast.
PRECISIONS: dict[str, str] = {"fp32": "fp32", "tf32": "fp32", "bf16": "bf16", "fp16": "fp16"}
#: what ``train`` accepts: tf32 is a CUDA matmul setting that ``bench`` measures, not a training recipe
TRAIN_PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")

#: devices the torch backend runs on (train's default picks CUDA when present, else the CPU)
DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps")

#: weight initialisation: torch's own, or the schemes the zoo's papers used
INIT_SCHEMES: tuple[str, ...] = ("default", "gaussian", "kaiming", "xavier")
