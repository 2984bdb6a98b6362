"""archcalc: declare a CNN once as a YAML spec; get shapes, params, MACs, memory and receptive fields.

The symbolic core imports no tensor library; torch lives only under ``archcalc.backends.torch``.
"""

__version__ = "0.1.0"
