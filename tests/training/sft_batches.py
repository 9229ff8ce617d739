"""Random SFT batches for the training tests (imported by tests/training/test_*.py)."""

import jax
import numpy as np

from basinlab.models import forward


def random_examples(vocab, n=8, width=12, seed=0):
    """(tokens, mask, loss_mask): left-padded rows of different lengths, the last 3-6 tokens targets."""
    rs = np.random.RandomState(seed)
    tokens = rs.randint(3, vocab, size=(n, width)).astype(np.int32)
    mask, loss_mask = np.zeros_like(tokens), np.zeros_like(tokens)
    for i in range(n):
        length, n_target = rs.randint(6, width + 1), rs.randint(3, 6)
        mask[i, width - length:] = 1
        loss_mask[i, width - n_target:] = 1
    tokens[mask == 0] = 0
    return tokens, mask, loss_mask


_forward = jax.jit(forward, static_argnames="spec")


def logits(model, examples):
    return _forward(model.spec, model.params, examples[0], attention_mask=examples[1])
