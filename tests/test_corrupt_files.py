"""Corrupt files of every kind basinlab reads end in a FileNotFoundError or a ValueError that names
the file and what was expected, and the CLI exits with code 2 and one line on stderr (issue 13).

Kinds: GGUF (truncated in the header, the tensor table, the data; NaN weights), safetensors (a wrong
header length, a missing tensor, a wrong dtype or shape, NaN weights), config.json (missing keys,
wrong types, not JSON), a tokenizer folder without its files, a .nc that is not NetCDF or not a
landscape, a store whose sweep.json is corrupt or whose block .npz is truncated. The files are
written here from tiny models (tests/faults.py)."""

import json
import struct

import numpy as np
import pytest
import xarray as xr
from safetensors.numpy import load_file, save_file

import basinlab
from basinlab.cli import main
from basinlab.landscape._results import open_dataset

from faults import copy_folder, gguf_cut_points, gguf_file, hf_folder, landscape_file


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return hf_folder(tmp_path_factory.mktemp("faults") / "tiny-gpt")


@pytest.fixture(scope="module")
def gguf_path(tmp_path_factory):
    return gguf_file(tmp_path_factory.mktemp("faults") / "tiny.gguf")


def cli_fails(argv, capsys, *needles):
    """main(argv) exits 2 with exactly one stderr line containing every needle."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert str(needle) in err, (needle, err)
    return err


def test_tiny_files_load(folder, gguf_path):
    assert basinlab.load(folder).n_params > 0
    assert basinlab.load(gguf_path).spec.n_layers == 1


@pytest.mark.parametrize("where", ["header", "tensor table", "data"])
def test_truncated_gguf(gguf_path, tmp_path, capsys, where):
    cut = gguf_cut_points(gguf_path)[where]
    bad = tmp_path / f"cut-{where.replace(' ', '-')}.gguf"
    bad.write_bytes(gguf_path.read_bytes()[:cut])
    with pytest.raises(ValueError, match=rf"{bad.name}.*(truncated|corrupt)"):
        basinlab.load(bad)
    cli_fails(["scores", "--model", str(bad), "--benchmark", "pydoc"], capsys, bad.name)


def test_gguf_nan_weights_named_and_loadable_on_request(tmp_path):
    bad = gguf_file(tmp_path / "nan.gguf", nan_in="blk.0.ffn_up.weight")
    with pytest.raises(ValueError, match=r"nan\.gguf: tensor\(s\) 'blk\.0\.ffn_up\.weight.*non-finite.*allow_nonf"):
        basinlab.load(bad)
    with pytest.warns(UserWarning, match=r"blk\.0\.ffn_up\.weight"):
        model = basinlab.load(bad, allow_nonfinite=True)
    assert np.isnan(np.asarray(model.params["layers"]["mlp"]["up"]["kernel"])).sum() == 1


def _edit_tensors(folder, tmp_path, edit):
    dst = copy_folder(folder, tmp_path / "edited")
    state = load_file(dst / "model.safetensors")
    edit(state)
    save_file(state, dst / "model.safetensors")
    return dst


def test_safetensors_wrong_header_length(folder, tmp_path, capsys):
    for n, length in enumerate((10**12, 3, 0)):
        dst = copy_folder(folder, tmp_path / f"h{n}")
        data = (dst / "model.safetensors").read_bytes()
        (dst / "model.safetensors").write_bytes(struct.pack("<Q", length) + data[8:])
        with pytest.raises(ValueError, match=r"model\.safetensors is not a readable safetensors file"):
            basinlab.load(dst)
    cli_fails(["scores", "--model", str(dst), "--benchmark", "pydoc"], capsys, "model.safetensors")


def test_safetensors_truncated(folder, tmp_path):
    dst = copy_folder(folder, tmp_path / "cut")
    data = (dst / "model.safetensors").read_bytes()
    (dst / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model\.safetensors.*(corrupt|truncated)"):
        basinlab.load(dst)


def test_safetensors_missing_tensor(folder, tmp_path):
    name = next(iter(load_file(folder / "model.safetensors")))
    dst = _edit_tensors(folder, tmp_path, lambda s: s.pop(name))
    with pytest.raises(ValueError, match=rf"missing tensor '{name}'"):
        basinlab.load(dst)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_safetensors_wrong_dtype(folder, tmp_path, dtype):
    name = next(iter(load_file(folder / "model.safetensors")))
    dst = _edit_tensors(folder, tmp_path, lambda s: s.update({name: s[name].astype(dtype)}))
    with pytest.raises(ValueError, match=rf"tensor '{name}' has dtype .*expected a floating-point tensor"):
        basinlab.load(dst)


def test_safetensors_wrong_shape(folder, tmp_path):
    state = load_file(folder / "model.safetensors")
    name = next(k for k, v in state.items() if v.ndim == 2)
    dst = _edit_tensors(folder, tmp_path, lambda s: s.update({name: s[name][:3]}))
    with pytest.raises(ValueError, match=rf"{name}.*\(3, "):
        basinlab.load(dst)


def test_safetensors_nan_weights_named(folder, tmp_path):
    names = sorted(load_file(folder / "model.safetensors"))[:2]

    def poison(s):
        for n in names:
            s[n] = s[n].copy()
            s[n].flat[0] = np.inf
    dst = _edit_tensors(folder, tmp_path, poison)
    with pytest.raises(ValueError, match=rf"'{names[0]}', '{names[1]}' hold non-finite"):
        basinlab.load(dst)
    with pytest.warns(UserWarning, match=names[0]):
        basinlab.load(dst, allow_nonfinite=True)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.pop("n_embd"), r"missing required key\(s\) \['n_embd'\]"),
    (lambda c: c.pop("model_type"), "no model_type"),
    (lambda c: c.update(n_layer="2"), r"n_layer must be a positive integer, got '2'"),
    (lambda c: c.update(n_head=2.5), "n_head must be a positive integer, got 2.5"),
    (lambda c: c.update(vocab_size=None), "vocab_size must be a positive integer, got None"),
    (lambda c: c.update(layer_norm_epsilon=[1e-5]), "layer_norm_epsilon"),
])
def test_config_missing_keys_or_wrong_types(folder, tmp_path, capsys, edit, match):
    dst = copy_folder(folder, tmp_path / "cfg")
    config = json.loads((dst / "config.json").read_text())
    edit(config)
    (dst / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=rf"config\.json: .*{match}"):
        basinlab.load(dst)
    cli_fails(["scores", "--model", str(dst), "--benchmark", "pydoc"], capsys, "config.json")


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b""])
def test_config_not_a_json_object(folder, tmp_path, content):
    dst = copy_folder(folder, tmp_path / "cfg")
    (dst / "config.json").write_bytes(content)
    with pytest.raises(ValueError, match=r"config\.json"):
        basinlab.load(dst)


def test_config_missing(folder, tmp_path):
    dst = copy_folder(folder, tmp_path / "nocfg")
    (dst / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"config\.json does not exist"):
        basinlab.load(dst)


def test_tokenizer_folder_without_its_files(folder, tmp_path, capsys):
    dst = copy_folder(folder, tmp_path / "tok")
    for f in dst.glob("tokenizer*"):
        if f.name != "tokenizer_config.json":
            f.unlink()
    with pytest.raises(ValueError, match=r"tok: the tokenizer files \['tokenizer_config\.json'\] cannot be read"):
        basinlab.load(dst)
    (dst / "tokenizer.json").write_text("{garbage")
    with pytest.raises(ValueError, match=r"tokenizer\.json.*cannot be read"):
        basinlab.load(dst)
    cli_fails(["scores", "--model", str(dst), "--benchmark", "pydoc"], capsys, "tokenizer")


@pytest.fixture(scope="module")
def nc(tmp_path_factory):
    return landscape_file(tmp_path_factory.mktemp("faults") / "ls.nc")


@pytest.mark.parametrize("content", [b"", b"garbage, not a NetCDF file", b"CDF\x01" + bytes(100)])
def test_nc_that_is_not_netcdf(tmp_path, capsys, content):
    bad = tmp_path / "garbage.nc"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=r"garbage\.nc is not a NetCDF-4/HDF5 file"):
        open_dataset(bad)
    for argv in (["plot", str(bad), "--out", str(tmp_path / "f.html")], ["widths", str(bad)]):
        cli_fails(argv, capsys, "garbage.nc", "not a NetCDF")
    assert not (tmp_path / "f.html").exists()


def test_truncated_nc(nc, tmp_path, capsys):
    bad = tmp_path / "cut.nc"
    bad.write_bytes(nc.read_bytes()[: nc.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut\.nc is not a readable NetCDF file"):
        open_dataset(bad)
    cli_fails(["widths", str(bad)], capsys, "cut.nc")


def test_nc_without_landscape_variables(tmp_path, capsys):
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(other, engine="h5netcdf")
    assert "x" in open_dataset(other)  # any NetCDF opens...
    with pytest.raises(ValueError, match=r"other\.nc is a NetCDF file but not a basinlab landscape: it lacks score"):
        open_dataset(other, landscape=True)  # ...but plot and widths need a landscape
    cli_fails(["plot", str(other), "--out", str(tmp_path / "f.html")], capsys, "other.nc", "lacks score")


def test_plot_and_widths_of_a_good_file(nc, tmp_path, capsys):
    assert main(["plot", str(nc), "--out", str(tmp_path / "f.html")]) == 0
    assert main(["widths", str(nc), "--tol", "0.1"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.html"]  # no temporary left


def test_store_with_corrupt_sweep_json_or_truncated_block(tmp_path, capsys):
    from basinlab.landscape import landscape
    from basinlab.scoring import token_benchmark

    from faults import tiny_gpt

    model = tiny_gpt()
    bench = token_benchmark(np.random.RandomState(0).randint(0, 256, size=(2, 8)), name="text")
    kw = dict(directions=2, alphas=[-0.1, 0.0, 0.1], chunk_size=3, progress=False, store=tmp_path / "s")
    ds = landscape(model, bench, **kw)
    block = tmp_path / "s" / "block-00001-000000.npz"
    block.write_bytes(block.read_bytes()[:50])
    with pytest.warns(UserWarning, match=r"block-00001-000000\.npz is unreadable.*recomputing"):
        again = landscape(model, bench, **kw)
    for a in (ds, again):
        a.attrs.pop("created_at")
    xr.testing.assert_identical(ds, again)
    (tmp_path / "s" / "sweep.json").write_text('{"model": ')
    with pytest.raises(ValueError, match=r"s/sweep\.json is corrupt"):
        landscape(model, bench, **kw)
