"""torch.utils.data's names (``from pycnn.utils.data import DataLoader``): see pycnn/data.py."""
from ..data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,  # noqa: F401
                    DistributedSampler, IterableDataset, RandomSampler, Sampler, SequentialSampler, Subset,
                    SubsetRandomSampler, TensorDataset, WorkerInfo, default_collate, default_convert,
                    get_worker_info, random_split)
