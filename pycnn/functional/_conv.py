"""The conv family: see csrc/conv.h for the kernels."""

__all__ = []
