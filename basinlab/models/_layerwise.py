"""Params that the forward pass forms one layer at a time (the landscape engine's fused perturbation).

A plain params dict holds every weight. A :class:`LayerwiseParams` instead *produces* them while the
forward pass runs: :meth:`outer` gives the weights outside the layer stack (embeddings, final norm,
head) and, inside the ``lax.scan`` over layers, :meth:`layer` turns that layer's slice of
:meth:`layer_inputs` into the layer's weights just before the layer runs. Only one layer's produced
weights are alive at a time, so e.g. theta0 + alpha * delta never exists for the whole model.

Every function of ``basinlab.models`` that runs the transformer accepts either kind: forward forms
the layers inside its scan; generate materializes the view once per call
(:meth:`LayerwiseParams.materialize`), since it runs the model at every new token. The subclass
must be a pytree (its arrays are traced through jit/scan); see
``basinlab.landscape._fused.PerturbedParams``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LayerwiseParams", "as_dict", "embedding_dtype", "parts"]


class LayerwiseParams:
    """Interface: weights produced per layer inside the forward pass (see the module docstring)."""

    def outer(self) -> dict[str, Any]:
        """The params dict without (or ignoring) "layers": embed, pos_embed, final_norm, lm_head."""
        raise NotImplementedError

    def layer_inputs(self) -> Any:
        """A pytree whose leaves all have the leading layer axis L; the forward scans over it."""
        raise NotImplementedError

    def layer(self, inputs: Any) -> dict[str, Any]:
        """One layer's params (the structure of ``params["layers"]`` without the L axis) from its
        slice of :meth:`layer_inputs`; runs inside the scan."""
        raise NotImplementedError

    @property
    def dtype(self) -> Any:
        """Stored dtype of the embedding (the forward's default compute dtype)."""
        raise NotImplementedError

    def materialize(self) -> dict[str, Any]:
        """The whole params dict, every layer formed (one copy of the model): for code that runs the
        model many times, e.g. generation, where forming the layers at every step would cost more."""
        import jax

        out = {k: v for k, v in self.outer().items() if k != "layers"}
        out["layers"] = jax.lax.map(self.layer, self.layer_inputs())
        return out


def as_dict(params: dict[str, Any] | LayerwiseParams) -> dict[str, Any]:
    """A params dict: ``params`` itself, or a :class:`LayerwiseParams` materialized."""
    return params.materialize() if isinstance(params, LayerwiseParams) else params


def parts(params: dict[str, Any] | LayerwiseParams) -> tuple[dict[str, Any], Any, Any]:
    """(outer params, scanned layer inputs, layer function or None) of a params dict or
    :class:`LayerwiseParams`; with None the scanned inputs are the layer params themselves."""
    if isinstance(params, LayerwiseParams):
        return params.outer(), params.layer_inputs(), params.layer
    if not isinstance(params, dict) or "layers" not in params:
        raise TypeError(f"params must be a params dict with 'layers' or a LayerwiseParams, got "
                        f"{type(params).__name__}")
    return params, params["layers"], None


def embedding_dtype(params: dict[str, Any] | LayerwiseParams) -> Any:
    """Stored dtype of the token embedding of a params dict or :class:`LayerwiseParams`."""
    if isinstance(params, LayerwiseParams):
        return params.dtype
    return params["embed"]["embedding"].dtype
