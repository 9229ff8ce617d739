"""basinlab.models._convert: the config-side helpers and their inverses, and the dtype check."""

import ml_dtypes
import numpy as np
import pytest

from basinlab.models import _convert as convert
from basinlab.models._spec import ModelSpec


def test_float_dtype_names_the_argument_and_what_is_valid():
    assert convert.float_dtype("dtype", "bfloat16", ("float32", "bfloat16")) == np.dtype(ml_dtypes.bfloat16)
    assert convert.float_dtype("dtype", np.float32, ("float32", "bfloat16")) == np.float32
    with pytest.raises(ValueError, match=r"compute_dtype='float16' is not supported; valid: \['float32'"):
        convert.float_dtype("compute_dtype", "float16", ("float32", "bfloat16"))
    assert convert.float_dtype("dtype", np.float16) == np.float16  # any float without `valid`
    assert convert.float_dtype("dtype", ml_dtypes.bfloat16).name == "bfloat16"
    with pytest.raises(ValueError, match="dtype must be a floating type.*int32"):
        convert.float_dtype("dtype", np.int32)
    with pytest.raises(ValueError, match="not a numpy dtype"):
        convert.float_dtype("dtype", "no-such-type")


@pytest.mark.parametrize("value", [None, 7, [7, 9]])
def test_token_id_value_inverts_token_ids(value):
    assert convert.token_id_value(convert.token_ids(value)) == value


@pytest.mark.parametrize("scaling", [
    {},
    {"rope_scaling": {"rope_type": "linear", "factor": 2.0}},
    {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 16}},
])
def test_rope_config_inverts_rope_fields(scaling):
    fields = convert.rope_fields({"rope_theta": 5e5, **scaling}, head_dim=16)
    spec = ModelSpec("llama", 10, 64, 1, 4, 4, 16, 32, 64, **fields)
    assert convert.rope_fields(convert.rope_config(spec), head_dim=16) == fields
