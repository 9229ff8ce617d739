"""The Hugging Face name maps (basinlab.models._namemap and each family's tensor_map), both ways.

transformers' own state dicts are the reference: HF -> params -> HF must give back every tensor
bit for bit under its name, so an entry whose save side is not the inverse of its load side fails
here; an entry wrong the same way in both directions (say q and k swapped) fails the logits parity
in test_models_parity.py instead.
"""

import dataclasses
import fnmatch

import jax
import numpy as np
import pytest

from basinlab.models import _families as families
from basinlab.models import _namemap as namemap
from basinlab.models._save import spec_to_config, state_dict_from_params

from hf_tiny import CONFIGS, tiny_model


def hf_checkpoint(name):
    """(spec, {HF name: float32 numpy}) of one tiny transformers model."""
    model = tiny_model(name)
    spec = families.spec_from_config(families.normalized_config(model.config.to_dict()), name=name)
    return spec, {k: v.detach().numpy() for k, v in model.state_dict().items()}


def round_trip_problems(entries, spec, tensors, ignore):
    """What HF -> params -> HF -> params through `entries` does not give back exactly (a list of
    strings; empty when the map is right)."""
    params = namemap.load_params(entries, spec, tensors, "hf", ignore)
    saved = namemap.save_params(entries, spec, params)
    layers = lambda e: range(spec.n_layers) if e.per_layer else [None]  # noqa: E731
    written_as = {alias: e.names(i)[0] for e in entries for i in layers(e) for alias in e.names(i)}
    problems = [f"{k} is neither mapped nor ignored" for k in tensors
                if k not in written_as and not any(fnmatch.fnmatch(k, p) for p in ignore)]
    expected = {written_as[k]: v for k, v in tensors.items() if k in written_as}
    problems += [f"{k} not written back" for k in sorted(set(expected) - set(saved))]
    problems += [f"{k} written but never read" for k in sorted(set(saved) - set(expected))]
    problems += [f"{k} differs" for k in sorted(set(saved) & set(expected))
                 if saved[k].dtype != expected[k].dtype or not np.array_equal(saved[k], expected[k])]
    back = namemap.load_params(entries, spec, saved, "saved", ignore)
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(params), jax.tree.leaves(back), strict=True):
        if not np.array_equal(x, y):
            problems.append(f"params {jax.tree_util.keystr(path)} differ after save -> load")
    return problems


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_family_map_round_trips_transformers_tensors_exactly(name):
    spec, tensors = hf_checkpoint(name)
    family = families.for_spec(spec)
    assert round_trip_problems(family.tensor_map(spec), spec, tensors, family.IGNORED) == []
    # The family's config side: save.py writes the model_type transformers wrote (llama, qwen2, ...).
    assert spec_to_config(spec)["model_type"] == tiny_model(name).config.model_type


def _with_save_side(entries, hf, to_hf):
    """`entries` with the save direction of entry `hf` replaced by `to_hf`."""
    return [dataclasses.replace(e, layout=namemap.Layout(e.layout.to_params, to_hf)) if e.hf == hf else e
            for e in entries]


@pytest.mark.parametrize("name, hf, wrong_save", [
    # a square Linear written untransposed: right shape, wrong layout
    ("llama2", "model.layers.{i}.self_attn.q_proj.weight", lambda leaves, spec: leaves[0]),
    # GPT-2's fused c_attn written in k, q, v order
    ("gpt2", "transformer.h.{i}.attn.c_attn.weight", lambda leaves, spec: np.concatenate(
        [leaves[1], leaves[0], leaves[2]], axis=-1)),
    # NeoX's per-head q/k/v interleave written as three blocks
    ("neox", "gpt_neox.layers.{i}.attention.query_key_value.weight",
     lambda leaves, spec: np.concatenate([k.T for k in leaves], axis=0)),
])
def test_a_save_side_that_is_not_the_inverse_is_caught(name, hf, wrong_save):
    spec, tensors = hf_checkpoint(name)
    family = families.for_spec(spec)
    entries = _with_save_side(family.tensor_map(spec), hf, wrong_save)
    problems = round_trip_problems(entries, spec, tensors, family.IGNORED)
    assert f"{hf.format(i=0)} differs" in problems and f"{hf.format(i=1)} differs" in problems


def test_gpt2_loads_without_the_transformer_prefix():
    spec, tensors = hf_checkpoint("gpt2")
    family = families.for_spec(spec)
    bare = {k.removeprefix("transformer."): v for k, v in tensors.items()}
    a, b = family.params_from_state_dict(spec, tensors), family.params_from_state_dict(spec, bare)
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def test_an_alias_is_read_and_the_primary_name_written():
    spec, tensors = hf_checkpoint("neox")  # transformers v5 names NeoX's head lm_head, v4 embed_out
    family = families.for_spec(spec)
    params = family.params_from_state_dict(spec, tensors)
    saved = state_dict_from_params(spec, params)
    assert "embed_out.weight" in saved and "lm_head.weight" not in saved
    np.testing.assert_array_equal(saved["embed_out.weight"], tensors["lm_head.weight"])


def test_entry_refuses_per_layer_names_with_unstacked_leaves():
    with pytest.raises(ValueError, match="layers/"):
        namemap.Entry("model.layers.{i}.mlp.up_proj.weight", "mlp/up/kernel", ("F", "D"))
    with pytest.raises(ValueError, match="layers/"):
        namemap.Entry("model.norm.weight", "layers/final_norm/scale", ("D",))


def test_save_params_refuses_leaves_the_map_does_not_know_and_missing_ones():
    spec, tensors = hf_checkpoint("smollm2")
    family = families.for_spec(spec)
    params = family.params_from_state_dict(spec, tensors)
    with pytest.raises(ValueError, match=r"\['surprise/kernel'\] have no Hugging Face name"):
        namemap.save_params(family.tensor_map(spec), spec, {**params, "surprise": {"kernel": np.zeros(3)}})
    with pytest.raises(ValueError, match=r"lack leaf 'final_norm/scale'.*model\.norm\.weight"):
        namemap.save_params(family.tensor_map(spec), spec, {k: v for k, v in params.items() if k != "final_norm"})


def test_save_params_checks_shapes_against_the_spec():
    spec, tensors = hf_checkpoint("smollm2")
    family = families.for_spec(spec)
    params = family.params_from_state_dict(spec, tensors)
    wider = spec.replace(d_ff=spec.d_ff + 1)
    with pytest.raises(ValueError, match=r"gate_proj\.weight.*\(112, 64\), expected \(113, 64\)"):
        namemap.save_params(family.tensor_map(wider), wider, params)
