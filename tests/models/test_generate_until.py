"""generate_until: shared-prefix prefill, stop strings and EOS, the budget flag."""

import numpy as np
import pytest

from basinlab.models._batched import left_pad
from basinlab.models._generate import generate, generate_until, prefill
from basinlab.models._stops import stop_table_from_texts

N = 6
pytestmark = pytest.mark.slow  # three small compilations (about 10 s on an idle 2-core machine)


@pytest.fixture(scope="module")
def runs(tiny_smol):
    """The tiny model on 4 prompts sharing a 10-token prefix: full prompts, and suffixes after the
    prefix given as ids and as a prefilled cache (one compiled program for both)."""
    m = tiny_smol
    rng = np.random.RandomState(0)
    prefix = list(rng.randint(3, m.spec.vocab_size, 10))
    suffixes = [list(rng.randint(3, m.spec.vocab_size, n)) for n in (3, 6, 1, 4)]
    full, fmask = left_pad([prefix + s for s in suffixes], 0)
    tokens, mask = left_pad(suffixes, 0)
    ref = np.asarray(generate(m.spec, m.params, full, fmask, max_new_tokens=N, eos_ids=(), pad_id=0))
    cache = prefill(m.spec, m.params, np.asarray(prefix))
    by_ids = generate_until(m.spec, m.params, tokens, mask, prefix=np.asarray(prefix), max_new_tokens=N, eos_ids=(),
                            pad_id=0)
    by_cache = generate_until(m.spec, m.params, tokens, mask, prefix_cache=cache, max_new_tokens=N, eos_ids=(),
                              pad_id=0)
    return m, prefix, tokens, mask, cache, ref, by_ids, by_cache


def test_shared_prefix_equals_full_prompts(runs):
    _, _, _, _, _, ref, by_ids, by_cache = runs
    np.testing.assert_array_equal(np.asarray(by_ids.tokens), ref)
    np.testing.assert_array_equal(np.asarray(by_cache.tokens), ref)
    assert np.asarray(by_ids.hit_budget).all()  # no EOS and no stops: every row runs to the budget


def test_stop_strings_and_eos_end_rows_and_clear_the_budget_flag(runs):
    m, _, tokens, mask, cache, ref, _, _ = runs
    eos = int(ref[0, 1])  # row 0 ends at its second token by EOS
    texts = ["x"] * m.spec.vocab_size
    texts[int(ref[1, 2])] = "<st"  # row 1 ends when its third and fourth tokens spell "<stop>"
    texts[int(ref[1, 3])] = "op>" if int(ref[1, 3]) != int(ref[1, 2]) else "<stop>"
    table = stop_table_from_texts(texts, ["<stop>"])
    out = generate_until(m.spec, m.params, tokens, mask, prefix_cache=cache, stops=table, max_new_tokens=N,
                         eos_ids=(eos,), pad_id=0)
    got, hit = np.asarray(out.tokens), np.asarray(out.hit_budget)
    for r in range(len(ref)):
        text, end = "", None
        for i, t in enumerate(ref[r]):
            text += texts[t]
            if t == eos or "<stop>" in text:
                end = i
                break
        if end is None:
            np.testing.assert_array_equal(got[r], ref[r])
            assert hit[r]
        else:  # the EOS or stop token is kept, then padding; the row did not hit the budget
            np.testing.assert_array_equal(got[r, : end + 1], ref[r, : end + 1])
            assert (got[r, end + 1:] == 0).all() and not hit[r]
    assert not hit[0] and not hit[1]


def test_argument_errors(runs):
    m, prefix, tokens, mask, cache, *_ = runs
    with pytest.raises(ValueError, match="not both"):
        generate_until(m.spec, m.params, tokens, mask, prefix=np.asarray(prefix), prefix_cache=cache)
    with pytest.raises(ValueError, match="1-D"):
        generate_until(m.spec, m.params, tokens, mask, prefix=np.asarray([prefix]))
    with pytest.raises(TypeError, match="StopTable"):
        generate_until(m.spec, m.params, tokens, mask, stops=["Q:"])
