"""The pool family: see csrc/pool.h for the kernels."""

__all__ = []
