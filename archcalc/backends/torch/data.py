"""Training data for ``archcalc train --data``: what to load, and how to feed it to the device.

Every source ends up as uint8 images (N, C, h, w) plus int64 labels. Small sets (digits, MNIST, CIFAR-10,
synthetic) stay whole in memory, on the device when it is a GPU, so batching is one index per step;
image folders are decoded by DataLoader workers into fixed-size uint8 tensors. Conversion to float,
channel adaptation, fitting to the spec's input size and normalisation happen per batch on the device
(:class:`Prep`), so host memory holds compact bytes, not float copies at the spec's resolution.
"""

from __future__ import annotations

import gzip
import io
import math
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from archcalc.errors import OptionError

#: The digits train/validation split is fixed, independent of ``--seed``, so runs compare on one set.
SPLIT_SEED = 0
DIGITS_VAL_FRACTION = 0.2
#: AlexNet/VGG: train crops of 224 come from images resized to 256.
BASE_SCALE = 256 / 224
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
#: Image folders: mean and std come from this many training images, not all of them.
STATS_SAMPLE = 512
#: In-memory sets are resized once, at load, when the result is smaller than this.
PREFIT_BYTES = 256 << 20
#: Whole in-memory sets go to the GPU when smaller than this.
DEVICE_RESIDENT_BYTES = 2 << 30


class DataError(OptionError):
    """The data named by ``--data`` cannot be used as asked."""


@dataclass
class Split:
    """One side of the split: in-memory images, or a dataset decoded by workers."""

    labels: torch.Tensor
    images: torch.Tensor | None = None
    dataset: Dataset[tuple[torch.Tensor, int]] | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Data:
    """A loaded data set, before it is fitted to a particular network."""

    name: str
    train: Split
    val: Split
    num_classes: int
    channels: int
    #: "fit": images are stored at their native size and fitted to the spec's (pad or resize);
    #: "crop": images are stored at BASE_SCALE × the spec's size, and cropped (AlexNet).
    mode: str
    #: Horizontal flips keep the label (not so for digits).
    flips: bool
    default_epochs: int
    notes: list[str] = field(default_factory=list)


def default_epochs(spec: str) -> int:
    """Epochs when ``--epochs`` is not given: enough to converge on the set, per the seeds' recipes."""
    kind = spec.split(":", 1)[0]
    return {"digits": 60, "synthetic": 3, "mnist": 10, "cifar10": 30, "imagefolder": 90}.get(kind, 30)


def load(spec: str, input_shape: Sequence[int], *, num_classes: int | None = None) -> Data:
    """Load the data named by ``--data`` (``digits``, ``synthetic``, ``mnist:DIR``, ``cifar10:DIR``,
    ``imagefolder:DIR``) for a network taking ``input_shape`` = (C, H, W)."""
    kind, _, arg = spec.partition(":")
    kinds = ("digits", "synthetic", "mnist", "cifar10", "imagefolder")
    if kind not in kinds:
        raise DataError(f"unknown data set {spec!r}", hint="use one of " + ", ".join(
            ["digits", "synthetic", "mnist:DIR", "cifar10:DIR", "imagefolder:DIR"]))
    if kind in ("mnist", "cifar10", "imagefolder") and not arg:
        raise DataError(f"--data {kind} needs a directory", hint=f"write --data {kind}:DIR")
    if kind in ("digits", "synthetic") and arg:
        raise DataError(f"--data {kind} takes no directory")
    c, h, w = (int(v) for v in input_shape)
    if kind == "digits":
        data = _digits()
    elif kind == "synthetic":
        data = _synthetic((c, h, w), num_classes or 10)
    elif kind == "mnist":
        data = _mnist(Path(arg))
    elif kind == "cifar10":
        data = _cifar10(Path(arg))
    else:
        data = _imagefolder(Path(arg), (c, h, w))
    if data.channels != c:
        how = "repeated to" if data.channels == 1 else "converted to"
        data.notes.append(f"{data.name} has {data.channels}-channel images; {how} {c} channel(s) "
                          "for the network's input")
    if num_classes is not None and data.num_classes > num_classes:
        raise DataError(f"{data.name} has {data.num_classes} classes but the network's classifier has "
                        f"{num_classes} outputs", hint=f"use --set num_classes={data.num_classes}")
    return data


# --------------------------------------------------------------------------------------------- sources

def _digits() -> Data:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_val = round(len(labels) * DIGITS_VAL_FRACTION)
    val, train = order[:n_val], order[n_val:]
    return Data("digits", Split(labels[train], images[train]), Split(labels[val], images[val]),
                num_classes=10, channels=1, mode="fit", flips=False, default_epochs=default_epochs("digits"))


def _synthetic(shape: tuple[int, int, int], classes: int) -> Data:
    """Smooth class prototypes plus noise, at the network's own input size: learnable (also under
    random crops), instant, no I/O."""
    g = torch.Generator().manual_seed(SPLIT_SEED)
    c, h, w = shape
    protos = F.interpolate(torch.randn(classes, c, 4, 4, generator=g), size=(h, w), mode="bilinear",
                           align_corners=False)
    protos = protos / protos.std(dim=(1, 2, 3), keepdim=True)

    def make(n: int) -> Split:
        labels = torch.randint(0, classes, (n,), generator=g)
        x = 128 + 50 * protos[labels] + 40 * torch.randn(n, *shape, generator=g)
        return Split(labels, x.clamp(0, 255).to(torch.uint8))

    return Data("synthetic", make(2048), make(512), num_classes=classes, channels=c, mode="fit",
                flips=False, default_epochs=default_epochs("synthetic"))


def _need_dir(root: Path, kind: str, layout: str) -> None:
    if not root.is_dir():
        raise DataError(f"{root} is not a directory", hint=f"{kind}:DIR expects {layout}")


def _find(root: Path, subdirs: Sequence[str], name: str) -> Path | None:
    for sub in subdirs:
        for candidate in (root / sub / name, root / sub / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def read_idx(path: Path) -> np.ndarray[Any, Any]:
    """An IDX file (the MNIST format, plain or gzipped) as a uint8 array."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != header + math.prod(dims):
        raise DataError(f"{path} is truncated: expected {header + math.prod(dims)} bytes, found {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _mnist(root: Path) -> Data:
    layout = "DIR[/MNIST/raw]/train-images-idx3-ubyte[.gz] and the other three IDX files"
    _need_dir(root, "mnist", layout)
    subdirs = (".", "raw", "MNIST/raw")
    names = {"xtr": "train-images-idx3-ubyte", "ytr": "train-labels-idx1-ubyte",
             "xva": "t10k-images-idx3-ubyte", "yva": "t10k-labels-idx1-ubyte"}
    found = {k: _find(root, subdirs, v) for k, v in names.items()}
    missing = [names[k] for k, p in found.items() if p is None]
    if missing:
        raise DataError(f"{root} has no {missing[0]}", hint=f"mnist:DIR expects {layout}")
    arrays = {k: read_idx(p) for k, p in found.items() if p is not None}
    splits = []
    for x, y in (("xtr", "ytr"), ("xva", "yva")):
        if arrays[x].ndim != 3 or arrays[y].ndim != 1 or len(arrays[x]) != len(arrays[y]):
            raise DataError(f"{root}: {names[x]} and {names[y]} do not match (images N×H×W, N labels)")
        splits.append(Split(torch.from_numpy(arrays[y].astype(np.int64)),
                            torch.from_numpy(arrays[x].copy()).unsqueeze(1)))
    classes = int(max(int(s.labels.max()) for s in splits)) + 1
    return Data("mnist", splits[0], splits[1], num_classes=classes, channels=1, mode="fit", flips=False,
                default_epochs=default_epochs("mnist"))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only containers and numpy arrays: a data file cannot run code."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _cifar_batch(path: Path) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    try:
        with path.open("rb") as f:
            d = _ArrayUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"{path} is not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def _cifar10(root: Path) -> Data:
    layout = "DIR[/cifar-10-batches-py]/data_batch_1..5 and test_batch (the python version)"
    _need_dir(root, "cifar10", layout)
    base = root / "cifar-10-batches-py" if (root / "cifar-10-batches-py").is_dir() else root
    train_files = sorted(base.glob("data_batch_*"))
    test_file = base / "test_batch"
    if not train_files or not test_file.is_file():
        missing = "data_batch_1" if not train_files else "test_batch"
        raise DataError(f"{base} has no {missing}", hint=f"cifar10:DIR expects {layout}")
    parts = [_cifar_batch(p) for p in train_files]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    xva, yva = _cifar_batch(test_file)
    classes = int(max(ytr.max(), yva.max())) + 1
    return Data("cifar10", Split(torch.from_numpy(ytr), torch.from_numpy(xtr)),
                Split(torch.from_numpy(yva), torch.from_numpy(xva)), num_classes=classes, channels=3,
                mode="fit", flips=True, default_epochs=default_epochs("cifar10"))


class ImageFiles(Dataset[tuple[torch.Tensor, int]]):
    """Image files decoded with Pillow, resized (shorter side) and centre-cropped to one size, as uint8."""

    def __init__(self, items: list[tuple[str, int]], size: tuple[int, int], channels: int):
        self.items = items
        self.size = size
        self.mode = "L" if channels == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.items[index]
        try:
            with Image.open(path) as opened:
                img = opened.convert(self.mode)
            h, w = self.size
            scale = max(h / img.height, w / img.width)
            rw, rh = max(w, round(img.width * scale)), max(h, round(img.height * scale))
            img = img.resize((rw, rh), Image.Resampling.BILINEAR)
            left, top = (rw - w) // 2, (rh - h) // 2
            arr = np.asarray(img.crop((left, top, left + w, top + h)), dtype=np.uint8)
        except Exception as exc:
            # One line, also when it crosses a worker process (see ``as_data_error``).
            raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc}".replace("\n", " ")) \
                from None
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous(), label


def _imagefolder(root: Path, shape: tuple[int, int, int]) -> Data:
    layout = "DIR/train/<class>/<image> and DIR/val/<class>/<image>"
    _need_dir(root, "imagefolder", layout)
    for sub in ("train", "val"):
        if not (root / sub).is_dir():
            raise DataError(f"{root} has no {sub}/ folder", hint=f"imagefolder:DIR expects {layout}")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{root / 'train'} has no class folders", hint=f"imagefolder:DIR expects {layout}")
    index = {c: i for i, c in enumerate(classes)}

    def scan(sub: str) -> list[tuple[str, int]]:
        items: list[tuple[str, int]] = []
        for d in sorted(p for p in (root / sub).iterdir() if p.is_dir()):
            if d.name not in index:
                raise DataError(f"{d} is a class that {root / 'train'} does not have")
            items += [(str(f), index[d.name]) for f in sorted(d.rglob("*"))
                      if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
        if not items:
            raise DataError(f"{root / sub} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})",
                            hint=f"imagefolder:DIR expects {layout}")
        return items

    c, h, w = shape
    base = (round(h * BASE_SCALE), round(w * BASE_SCALE))
    stored = 1 if c == 1 else 3
    splits = []
    for sub in ("train", "val"):
        items = scan(sub)
        labels = torch.tensor([lab for _, lab in items], dtype=torch.int64)
        splits.append(Split(labels, dataset=ImageFiles(items, base, stored)))
    data = Data("imagefolder", splits[0], splits[1], num_classes=len(classes), channels=stored, mode="crop",
                flips=True, default_epochs=default_epochs("imagefolder"))
    if stored != c:
        data.notes.append(f"images are decoded as RGB and converted to {c} channels for the network's input")
    return data


def as_data_error(exc: BaseException) -> DataError | None:
    """The one-line DataError inside an exception re-raised from a DataLoader worker, if any."""
    text = exc.message if isinstance(exc, DataError) else str(exc)
    if isinstance(exc, DataError) and "\n" not in text:
        return exc
    for line in text.splitlines():
        marker = "DataError: archcalc: "
        if marker in line:
            return DataError(line.split(marker, 1)[1])
    return None


# ------------------------------------------------------------------------------------- on the device

class Prep:
    """uint8 batch → float, adapted to the network's channels and size, normalised by training-set stats.

    Conversion and normalisation are one fused op, ``shift + x·scale``, on the uint8 tensor: on a CPU
    every full-batch op is a parallel region, and a loaded machine makes each of them expensive.
    """

    def __init__(self, data: Data, input_shape: Sequence[int], device: torch.device):
        self.channels, self.height, self.width = (int(v) for v in input_shape)
        self.mode = data.mode
        self.device = device
        self.set_stats([0.0] * self.channels, [1.0] * self.channels)

    def _pipeline(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        c = x.shape[1]
        if c != self.channels:  # kept on the 0..255 scale
            if c == 1:
                x = x.expand(-1, self.channels, -1, -1)
            elif self.channels == 1 and c == 3:
                grey = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
                x = (x.float() * grey).sum(1, keepdim=True)
            else:
                x = x.float().mean(1, keepdim=True).expand(-1, self.channels, -1, -1)
        how = fit_kind(x.shape[-2], x.shape[-1], self.height, self.width) if self.mode == "fit" else "same"
        if how == "pad":  # before normalising: the border is black, as MNIST's own
            x = fit(x, self.height, self.width)
        x = torch.addcmul(shift, x, scale)
        if how == "resize":  # after: normalisation is affine and commutes with interpolation
            x = fit(x, self.height, self.width)
        return x

    def adapt(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (N, c, h, w) → float in [0, 1] with the network's channels and (for "fit" data) size."""
        return self._pipeline(x, self._unit_scale, self._zero)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._pipeline(x, self._scale, self._shift)

    def compute_stats(self, split: Split) -> None:
        """Per-channel mean and std of the training images (AlexNet subtracts the mean image's mean)."""
        total = torch.zeros(self.channels, dtype=torch.float64, device=self.device)
        sq = torch.zeros_like(total)
        count = 0
        for xb in _stat_batches(split):
            x = self.adapt(xb).double()
            total += x.sum((0, 2, 3))
            sq += (x * x).sum((0, 2, 3))
            count += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / max(count, 1)
        var = (sq / max(count, 1) - mean * mean).clamp_min(1e-12)
        self.set_stats(mean.tolist(), var.sqrt().clamp_min(1e-3).tolist())

    def set_stats(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32, device=self.device)
        self.std = torch.tensor(list(std), dtype=torch.float32, device=self.device)
        shape = (1, self.channels, 1, 1)
        self._scale = (1.0 / (255.0 * self.std)).view(shape)
        self._shift = (-self.mean / self.std).view(shape)
        self._unit_scale = torch.full(shape, 1.0 / 255.0, device=self.device)
        self._zero = torch.zeros(shape, device=self.device)


def prefit(split: Split, height: int, width: int) -> Split:
    """Resize a small in-memory split to (height, width) once, as uint8 (digits: 8×8 → 32×32), rather
    than on every batch; large sets (CIFAR-10 at 224) stay native and are resized per batch."""
    images = split.images
    if images is None or fit_kind(images.shape[-2], images.shape[-1], height, width) != "resize":
        return split
    if images.shape[0] * images.shape[1] * height * width > PREFIT_BYTES:
        return split
    chunks = [fit(chunk.float(), height, width).round_().clamp_(0, 255).to(torch.uint8)
              for chunk in torch.split(images, 4096)]
    return Split(split.labels, torch.cat(chunks))


def fit_kind(h: int, w: int, height: int, width: int) -> str:
    """How images of (h, w) reach (height, width): "same", "pad" (slightly smaller: MNIST 28 → LeNet
    32) or "resize"."""
    if (h, w) == (height, width):
        return "same"
    if h <= height and w <= width and height - h <= max(4, h // 4) and width - w <= max(4, w // 4):
        return "pad"
    return "resize"


def fit(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Fit images to (height, width): zero-pad when slightly smaller, else resize (see fit_kind)."""
    h, w = x.shape[-2:]
    how = fit_kind(h, w, height, width)
    if how == "same":
        return x
    if how == "pad":
        top, left = (height - h) // 2, (width - w) // 2
        return F.pad(x, (left, width - w - left, top, height - h - top))
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
                         antialias=h > height or w > width)


def _stat_batches(split: Split) -> Iterator[torch.Tensor]:
    if split.images is not None:
        images = split.images
        if len(images) > 20000:
            idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))[:20000]
            images = images[idx]
        yield from torch.split(images, 1024)
        return
    assert split.dataset is not None
    n = len(split)
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))[:STATS_SAMPLE].tolist()
    for chunk in range(0, len(pick), 64):
        yield torch.stack([split.dataset[i][0] for i in pick[chunk: chunk + 64]])


@dataclass
class Batch:
    """A batch on the device; ``valid`` counts real samples (a distributed sampler pads the last ones)."""

    x: torch.Tensor
    y: torch.Tensor
    valid: torch.Tensor  # bool (N,)


class Loader:
    """Batches of one split, sharded across processes like DistributedSampler, shuffled by (seed, epoch).

    In-memory sets are indexed directly (on the device if it is a GPU and they fit); image folders go
    through a DataLoader with workers and pinned memory.
    """

    def __init__(self, split: Split, *, batch: int, device: torch.device, shuffle: bool, seed: int,
                 rank: int = 0, world: int = 1, workers: int = 0, pad: bool = True):
        self.split = split
        self.batch = batch
        self.device = device
        self.rank, self.world = rank, world
        self.pad = pad
        self.sampler: DistributedSampler[int] = DistributedSampler(
            _Indices(len(split)), num_replicas=world, rank=rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.images: torch.Tensor | None = None
        self.labels = split.labels
        self.loader: DataLoader[tuple[torch.Tensor, int]] | None = None
        self._order: list[int] = []
        if split.images is not None:
            images = split.images
            if device.type != "cpu" and images.numel() < DEVICE_RESIDENT_BYTES:
                images, self.labels = images.to(device), self.labels.to(device)
            self.images = images
        else:
            assert split.dataset is not None
            self.loader = DataLoader(split.dataset, batch_size=batch, sampler=_Order(self),
                                     num_workers=workers, pin_memory=device.type == "cuda",
                                     persistent_workers=workers > 0, prefetch_factor=4 if workers else None,
                                     worker_init_fn=_ignore_sigint if workers else None)

    def indices(self) -> list[int]:
        """This process's sample order for the current epoch: padded like DistributedSampler if ``pad``."""
        order = list(iter(self.sampler))
        if not self.pad:  # evaluation: no duplicated samples; the last process may get one fewer
            n = len(self.split)
            order = [i for j, i in enumerate(order) if self.rank + j * self.world < n]
        return order

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        """Batches per epoch on this process."""
        if self.pad:
            return math.ceil(self.sampler.num_samples / self.batch)
        return math.ceil(max(0, len(self.split) - self.rank) / self.world / self.batch)

    def batches(self, skip: int = 0) -> Iterator[Batch]:
        """The epoch's batches, skipping the first ``skip`` (resuming mid-epoch)."""
        n = len(self.split)
        order = self.indices()
        valid_all = torch.arange(len(order)) * self.world + self.rank < n
        start0 = skip * self.batch
        if self.images is not None:
            idx_all = torch.tensor(order, dtype=torch.int64)
            for start in range(start0, len(order), self.batch):
                idx = idx_all[start: start + self.batch]
                valid = valid_all[start: start + self.batch]
                if self.images.device.type != "cpu":
                    idx = idx.to(self.images.device, non_blocking=True)
                yield Batch(self.images[idx], self.labels[idx].to(self.device, non_blocking=True),
                            valid.to(self.device, non_blocking=True))
            return
        assert self.loader is not None
        self._order = order[start0:]
        valid_all = valid_all[start0:]
        try:
            for i, (x, y) in enumerate(self.loader):
                valid = valid_all[i * self.batch: i * self.batch + len(y)]
                yield Batch(x, y.to(self.device, non_blocking=True), valid.to(self.device, non_blocking=True))
        except Exception as exc:
            err = as_data_error(exc)
            if err is None:
                raise
            raise err from None


def _ignore_sigint(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C to the main process, which stops at a step boundary."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Indices(Dataset[int]):
    """A stand-in dataset of n items, for DistributedSampler's sharding arithmetic."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        return index


class _Order:
    """The DataLoader's sampler: the order the Loader chose for this epoch (read when iteration starts)."""

    def __init__(self, loader: Loader):
        self.loader = loader

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.loader._order))

    def __len__(self) -> int:
        return len(self.loader._order)
