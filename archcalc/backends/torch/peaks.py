"""Dense peak FLOP/s per accelerator and precision, each entry citing the vendor's datasheet.

MFU (model FLOPs utilisation, as in nanoGPT's ``estimate_mfu`` and the PaLM paper) divides achieved
FLOP/s by one of these. Rules for the table:

* **Dense only.** NVIDIA datasheets print tensor-core figures *with 2:4 structured sparsity* (marked
  ``*``) and state that dense is half; every tensor-core number here is that starred figure / 2.
* **Per precision as archcalc bench runs it:** ``fp32`` is the plain FP32 (CUDA-core) peak, because
  ``bench --precision fp32`` turns TF32 off; ``tf32`` the TF32 tensor-core peak; ``bf16``/``fp16``
  the tensor-core peak with FP32 accumulation (what autocast uses).
* **None** where the device has no such unit (V100 has no BF16/TF32 tensor cores): MFU is then
  omitted with that reason, never guessed.
* A device whose name matches no pattern is not in the table: the bench says so and omits MFU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

T = 1e12


@dataclass(frozen=True)
class DevicePeak:
    """One device's dense peaks in FLOP/s; ``pattern`` matches ``torch.cuda.get_device_name()``."""

    name: str
    pattern: str
    fp32: float | None
    tf32: float | None
    bf16: float | None
    fp16: float | None
    source: str
    notes: str = ""

    def peak(self, precision: str) -> float | None:
        value: float | None = getattr(self, precision)
        return value


_H100_DS = ("NVIDIA H100 Tensor Core GPU datasheet (2023), table 'Technical Specifications'"
            " https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet")
_H200_DS = ("NVIDIA H200 Tensor Core GPU datasheet (2024), table 'Technical Specifications'"
            " https://www.nvidia.com/en-us/data-center/h200/")
_A100_DS = ("NVIDIA A100 Tensor Core GPU datasheet (2021), table 'NVIDIA A100 Tensor Core GPU"
            " Specifications' (same peaks for SXM and PCIe, 40 GB and 80 GB)"
            " https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
            "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf")
_V100_DS = ("NVIDIA Tesla V100 GPU datasheet (2020), 'Specifications' (Single-Precision;"
            " Tensor Performance = FP16 tensor cores, FP32 accumulate)"
            " https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf")

#: Most specific patterns first (H100 PCIe and NVL before plain H100).
TABLE: tuple[DevicePeak, ...] = (
    # H100 SXM5: FP32 67 TF; TF32 989* ; BF16 1,979* ; FP16 1,979*  (* with sparsity)
    DevicePeak("NVIDIA H100 PCIe", r"H100.*PCIe", 51 * T, 756 / 2 * T, 1513 / 2 * T, 1513 / 2 * T, _H100_DS,
               "datasheet: FP32 51, TF32 756*, BF16 1,513*, FP16 1,513* TFLOPS"),
    DevicePeak("NVIDIA H100 NVL", r"H100.*NVL", 60 * T, 835 / 2 * T, 1671 / 2 * T, 1671 / 2 * T, _H100_DS,
               "datasheet: FP32 60, TF32 835*, BF16 1,671*, FP16 1,671* TFLOPS"),
    DevicePeak("NVIDIA H100 SXM", r"H100.*(SXM|HBM3)", 67 * T, 989 / 2 * T, 1979 / 2 * T, 1979 / 2 * T,
               _H100_DS, "datasheet: FP32 67, TF32 989*, BF16 1,979*, FP16 1,979* TFLOPS;"
               " torch reports the SXM5 part as 'NVIDIA H100 80GB HBM3'"),
    DevicePeak("NVIDIA H200 NVL", r"H200.*NVL", 60 * T, 835 / 2 * T, 1671 / 2 * T, 1671 / 2 * T, _H200_DS,
               "datasheet: FP32 60, TF32 835*, BF16 1,671*, FP16 1,671* TFLOPS"),
    DevicePeak("NVIDIA H200 SXM", r"\bH200\b", 67 * T, 989 / 2 * T, 1979 / 2 * T, 1979 / 2 * T, _H200_DS,
               "datasheet: FP32 67, TF32 989*, BF16 1,979*, FP16 1,979* TFLOPS; torch reports 'NVIDIA H200'"),
    DevicePeak("NVIDIA A100", r"\bA100\b", 19.5 * T, 156 * T, 312 * T, 312 * T, _A100_DS,
               "datasheet: FP32 19.5, TF32 156 | 312*, BF16 312 | 624*, FP16 312 | 624* TFLOPS"),
    DevicePeak("NVIDIA A10", r"\bA10\b", 31.2 * T, 62.5 * T, 125 * T, 125 * T,
               "NVIDIA A10 Tensor Core GPU datasheet (2021)"
               " https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a10/pdf/a10-datasheet.pdf",
               "datasheet: FP32 31.2, TF32 62.5 | 125*, BF16 125 | 250*, FP16 125 | 250* TFLOPS"),
    DevicePeak("NVIDIA L4", r"\bL4\b", 30.3 * T, 120 / 2 * T, 242 / 2 * T, 242 / 2 * T,
               "NVIDIA L4 Tensor Core GPU datasheet (2023)"
               " https://www.nvidia.com/en-us/data-center/l4/",
               "datasheet: FP32 30.3, TF32 120*, BF16 242*, FP16 242* TFLOPS"),
    DevicePeak("NVIDIA L40S", r"\bL40S\b", 91.6 * T, 183 * T, 362.05 * T, 362.05 * T,
               "NVIDIA L40S GPU datasheet (2023) https://www.nvidia.com/en-us/data-center/l40s/",
               "datasheet: FP32 91.6, TF32 183 | 366*, BF16 362.05 | 733*, FP16 362.05 | 733* TFLOPS"),
    DevicePeak("NVIDIA V100S PCIe", r"V100S", 16.4 * T, None, None, 130 * T, _V100_DS,
               "datasheet: single precision 16.4, tensor 130 TFLOPS; no TF32 or BF16 tensor cores"),
    DevicePeak("NVIDIA V100 SXM2", r"V100.*SXM2", 15.7 * T, None, None, 125 * T, _V100_DS,
               "datasheet: single precision 15.7, tensor 125 TFLOPS; no TF32 or BF16 tensor cores"),
    DevicePeak("NVIDIA V100 PCIe", r"V100.*PCIE", 14 * T, None, None, 112 * T, _V100_DS,
               "datasheet: single precision 14, tensor 112 TFLOPS; no TF32 or BF16 tensor cores"),
    DevicePeak("NVIDIA T4", r"\bT4\b", 8.1 * T, None, None, 65 * T,
               "NVIDIA T4 Tensor Core GPU datasheet (2019)"
               " https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf",
               "datasheet: FP32 8.1, mixed precision (FP16/FP32) 65 TFLOPS; no TF32 or BF16 tensor cores"),
    DevicePeak("NVIDIA GeForce RTX 4090", r"RTX 4090", 82.6 * T, 82.6 * T, 165.2 * T, 165.2 * T,
               "NVIDIA Ada Lovelace GPU Architecture whitepaper v2.1, Appendix A, table 'GeForce RTX 4090'"
               " https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf",
               "whitepaper: FP32 82.6; TF32 82.6/165.2*; BF16 and FP16 (FP32 accumulate) 165.2/330.4*"
               " TFLOPS"),
    DevicePeak("NVIDIA GeForce RTX 3090", r"RTX 3090(?! Ti)", 35.6 * T, 35.6 * T, 71 * T, 71 * T,
               "NVIDIA Ampere GA102 GPU Architecture whitepaper v2.0, table 'GeForce RTX 3090'"
               " https://www.nvidia.com/content/PDF/nvidia-ampere-ga-102-gpu-architecture-whitepaper-v2.pdf",
               "whitepaper: FP32 35.6; TF32 35.6/71*; BF16 and FP16 (FP32 accumulate) 71/142* TFLOPS"),
)


def lookup(device_name: str) -> DevicePeak | None:
    """The table entry whose pattern matches ``device_name`` (first match wins), or None."""
    for entry in TABLE:
        if re.search(entry.pattern, device_name, flags=re.IGNORECASE):
            return entry
    return None


def peak_flops(device_name: str, precision: str) -> tuple[float | None, str]:
    """(dense peak FLOP/s, note): the peak or None with the reason MFU is omitted."""
    entry = lookup(device_name)
    if entry is None:
        return None, f"'{device_name}' is not in the peak table (backends/torch/peaks.py); MFU omitted"
    value = entry.peak(precision)
    if value is None:
        return None, f"{entry.name} has no dense {precision} peak in its datasheet; MFU omitted"
    return value, f"{entry.name} dense {precision} peak {value / T:g} TFLOP/s ({entry.source})"
