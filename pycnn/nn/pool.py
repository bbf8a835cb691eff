"""pool modules (torch.nn names, defaults and state_dict keys)."""

__all__ = []
