"""Loading: bad input gives clear errors, never a silently wrong model; hub ids go through the cache."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import basinlab

from hf_tiny import tiny_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("llama")
    tiny_model("llama3").save_pretrained(path)
    return path


def copy_with(folder, tmp_path, config=None, tensors=None):
    """A copy of `folder` with its config.json and/or tensors edited."""
    dst = tmp_path / "edited"
    shutil.copytree(folder, dst)
    if config is not None:
        raw = json.loads((dst / "config.json").read_text())
        config(raw)
        (dst / "config.json").write_text(json.dumps(raw))
    if tensors is not None:
        (weights,) = dst.glob("*.safetensors")
        state = load_file(weights)
        tensors(state)
        save_file(state, weights)
    return dst


def test_loads_and_counts_parameters(folder):
    model = basinlab.load(folder)
    ref = tiny_model("llama3")
    assert model.n_params == sum(p.numel() for p in ref.parameters())
    assert model.spec.rope_type == "llama3" and model.spec.n_kv_heads == 2


def test_unsupported_architecture_lists_supported(folder, tmp_path):
    bad = copy_with(folder, tmp_path, config=lambda c: c.update(model_type="bert"))
    with pytest.raises(ValueError, match=r"model_type='bert'.*supported.*gpt2.*llama.*qwen2"):
        basinlab.load(bad)


def test_unknown_config_key_is_refused(folder, tmp_path):
    bad = copy_with(folder, tmp_path, config=lambda c: c.update(attn_logit_softcapping=30.0))
    with pytest.raises(ValueError, match=r"unsupported config key.*attn_logit_softcapping.*supported keys"):
        basinlab.load(bad)


def test_unsupported_config_value_lists_valid_ones(folder, tmp_path):
    def yarn(c):
        c.pop("rope_scaling", None)
        c["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}

    bad = copy_with(folder, tmp_path, config=yarn)
    with pytest.raises(ValueError, match=r"rope_type='yarn'.*valid.*llama3"):
        basinlab.load(bad)


def test_wrong_tensor_shape_names_tensor_and_shapes(folder, tmp_path):
    name = "model.layers.1.self_attn.k_proj.weight"
    bad = copy_with(folder, tmp_path, tensors=lambda s: s.update({name: s[name][:16]}))
    with pytest.raises(ValueError, match=r"k_proj\.weight.*\(16, 64\).*\(32, 64\)"):
        basinlab.load(bad)


def test_missing_and_extra_tensors(folder, tmp_path):
    bad = copy_with(folder, tmp_path, tensors=lambda s: s.pop("model.layers.0.mlp.up_proj.weight"))
    with pytest.raises(ValueError, match=r"missing tensor 'model.layers.0.mlp.up_proj.weight'"):
        basinlab.load(bad)
    extra = copy_with(folder, tmp_path / "x", tensors=lambda s: s.update(surprise=np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=r"not understood.*surprise"):
        basinlab.load(extra)


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        basinlab.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty/config.json"):
        basinlab.load(tmp_path / "empty")


def test_truncated_safetensors_is_an_error(folder, tmp_path):
    dst = copy_with(folder, tmp_path)
    (weights,) = dst.glob("*.safetensors")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"safetensors.*(corrupt|truncated)"):
        basinlab.load(dst)
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="safetensors"):
        basinlab.load(dst)


def test_bad_dtype(folder):
    with pytest.raises(ValueError, match=r"dtype='float16'.*valid.*bfloat16"):
        basinlab.load(folder, dtype="float16")


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_hub_id_loads_from_cache_and_fails_clearly_offline(folder, tmp_path):
    """A hub id resolves through the Hugging Face cache layout with no network."""
    snap = tmp_path / "hub" / "models--someone--tiny-llama" / "snapshots" / ("0" * 40)
    shutil.copytree(folder, snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    code = (
        "import basinlab, sys\n"
        "m = basinlab.load('someone/tiny-llama'); print('OK', m.n_params)\n"
        "try:\n    basinlab.load('someone/absent-model')\n"
        "except OSError as e:\n    print('ERR', e)\n"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert "OK " in out.stdout, out.stderr[-2000:]
    assert "ERR could not load 'someone/absent-model'" in out.stdout
    assert "local folder" in out.stdout
