"""A small training loop: fit / evaluate with a live progress bar and a history.

    trainer = Trainer(model, optimizer, loss_fn=F.cross_entropy, scheduler=None)
    history = trainer.fit(train_loader, epochs=10, test_loader=test_loader)
    # history: [{'epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc', 'seconds', 'images_per_s', 'lr'}, ...]
"""
from __future__ import annotations

import sys
import time

from . import functional as F
from .tensor import no_grad


class ProgressBar:
    """One line per epoch, redrawn in place (at most 10 times a second) when the stream is a tty."""

    def __init__(self, total: int, prefix: str, stream=None, width: int = 24):
        self.total, self.prefix, self.width = total, prefix, width
        self.stream = stream if stream is not None else sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_draw = 0.0

    def update(self, done: int, text: str, force: bool = False):
        now = time.perf_counter()
        if not self.live or (not force and now - self.last_draw < 0.1 and done < self.total):
            return
        self.last_draw = now
        filled = int(self.width * done / max(self.total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.prefix} [{bar}] {done}/{self.total} {text}")
        self.stream.flush()

    def close(self, text: str):
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(f"{self.prefix} {text}\n")
        self.stream.flush()


def _accuracy_count(logits, target) -> int:
    """Correct predictions (computed on the logits' device; one scalar comes back)."""
    return int((logits.detach().argmax(dim=1) == target).sum().item())


class Trainer:
    """device: where the batches go (default: the model's parameters' device); the loaders
    yield host tensors and each batch is copied there."""

    def __init__(self, model, optimizer, loss_fn=F.cross_entropy, scheduler=None, stream=None,
                 verbose: bool = True, device=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.stream, self.verbose = scheduler, stream, verbose
        if device is None:
            device = next((p.device for p in model.parameters()), "cpu")
        self.device = device
        self.history: list = []

    def train_epoch(self, loader, epoch: int = 1, epochs: int = 1) -> dict:
        self.model.train()
        bar = ProgressBar(len(loader), f"epoch {epoch}/{epochs}", self.stream) if self.verbose else None
        total_loss, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        for i, (x, y) in enumerate(loader, 1):
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad()
            logits = self.model(x)
            loss = self.loss_fn(logits, y)
            loss.backward()
            self.optimizer.step()
            n = x.shape[0]
            total_loss += loss.item() * n
            correct += _accuracy_count(logits, y)
            seen += n
            if bar:
                rate = seen / (time.perf_counter() - start)
                bar.update(i, f"loss {total_loss / seen:.4f} acc {correct / seen:.3f} {rate:.0f} img/s")
        seconds = time.perf_counter() - start
        if getattr(getattr(loader, "sampler", None), "num_replicas", 1) > 1:  # one rank's shard: sum the ranks'
            from . import distributed
            total_loss, correct, seen = distributed._sum_over_ranks(total_loss, correct, seen)
        return {"train_loss": total_loss / max(seen, 1), "train_acc": correct / max(seen, 1),
                "seconds": seconds, "images_per_s": seen / seconds if seconds else 0.0, "_bar": bar}

    @no_grad()
    def evaluate(self, loader) -> dict:
        """Mean loss and accuracy over a loader, in eval mode."""
        self.model.eval()
        total_loss, correct, seen = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            logits = self.model(x)
            total_loss += self.loss_fn(logits, y).item() * x.shape[0]
            correct += _accuracy_count(logits, y)
            seen += x.shape[0]
        return {"loss": total_loss / max(seen, 1), "acc": correct / max(seen, 1)}

    def fit(self, train_loader, epochs: int, test_loader=None, start_epoch: int = 1, on_epoch_end=None) -> list:
        """Epochs start_epoch..epochs (a resumed run starts after its checkpoint's epoch);
        on_epoch_end(record) runs after each epoch's scheduler step (checkpoints, reseeding)."""
        if epochs < 1:
            raise ValueError(f"Trainer.fit: epochs must be >= 1, got {epochs}")
        if not 1 <= start_epoch <= epochs:
            raise ValueError(f"Trainer.fit: start_epoch must be in [1, epochs={epochs}], got {start_epoch}")
        for epoch in range(start_epoch, epochs + 1):
            lr = self.optimizer.param_groups[0]["lr"]
            sampler = getattr(train_loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):  # DistributedSampler: a new shared permutation, from epoch 0
                sampler.set_epoch(epoch - 1)
            record = self.train_epoch(train_loader, epoch, epochs)
            bar = record.pop("_bar")
            record.update(epoch=epoch, lr=lr)
            text = (f"train loss {record['train_loss']:.4f} acc {record['train_acc']:.4f} "
                    f"| {record['images_per_s']:.0f} img/s {record['seconds']:.1f}s")
            if test_loader is not None:
                ev = self.evaluate(test_loader)
                record.update(test_loss=ev["loss"], test_acc=ev["acc"])
                text += f" | test loss {ev['loss']:.4f} acc {ev['acc']:.4f}"
            if bar:
                bar.close(text)
            if self.scheduler is not None:
                self.scheduler.step()
            self.history.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record)
        return self.history
