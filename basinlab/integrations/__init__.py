"""Bridges to other tools: `lmeval` (basinlab as an lm-evaluation-harness model backend)."""
