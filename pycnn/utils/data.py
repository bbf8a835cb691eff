"""torch.utils.data's names (``from pycnn.utils.data import DataLoader``): see pycnn/data.py."""
from ..data import (ConcatDataset, DataLoader, Dataset, DistributedSampler, Sampler, Subset, TensorDataset,  # noqa: F401
                    default_collate, random_split)
