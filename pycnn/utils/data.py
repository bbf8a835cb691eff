"""torch.utils.data's names (``from pycnn.utils.data import DataLoader``): see pycnn/data.py."""
from ..data import (BatchSampler, ConcatDataset, DataLoader, Dataset, DistributedSampler, RandomSampler,  # noqa: F401
                    Sampler, SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, WorkerInfo,
                    default_collate, get_worker_info, random_split)
