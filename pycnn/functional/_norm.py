"""The norm family: see csrc/norm.h for the kernels."""

__all__ = []
