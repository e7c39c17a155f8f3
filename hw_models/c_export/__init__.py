"""The routed streaming encoder as portable C99: ``export_c(codec, candidate, out_dir, threshold) -> CExportInfo``.

Why hand-written kernels and not a codegen (checked with the PyPI wheels apache-tvm 0.27, iree-base-compiler
3.13 and executorch 1.5.1, on this project's ONNX export): TVM 0.27 no longer has Relay or microTVM (its
bare-metal C/AOT path), and its Relax ONNX importer rejects the exporter's causal pads ("Dynamic pads are
not supported yet"). IREE 3.13 compiles the graph for ``armv7a``/``cortex-a32``, but as an LLVM object for the
kernels plus an EmitC VM module that needs the IREE runtime cross-built from source, for a stateless
one-shot graph: per-conv history and routing would have to become explicit tensors and ``scf.if``.
ExecuTorch 1.5 emits a ``.pte`` program for a C++ runtime built from source (the wheel ships host
libraries only, and pins torchao). None gives a self-contained C source with per-conv streaming state, a
state policy and one tail per segment, so the kernels here are written by hand in the CMSIS-NN /
TFLite-Micro style (``dsl_runtime.c``) and the generator emits weights, state and routing around them.

Modules: ``program`` (typed layers lowered from torch), ``emit_chain`` / ``emit_model`` (C text),
``export`` (:func:`export_c`), ``toolchain`` (host and ARM compilers, flags in one place).
"""

from dslnas.hw_models.c_export.export import STATE_POLICIES, CExportInfo, export_c, export_program, program_of
from dslnas.hw_models.c_export.program import PATH_FULL, PATH_LIGHT, CExportError, Program

__all__ = [
    "CExportError", "CExportInfo", "PATH_FULL", "PATH_LIGHT", "Program", "STATE_POLICIES", "export_c",
    "export_program", "program_of",
]
