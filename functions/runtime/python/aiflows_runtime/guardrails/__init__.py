"""Guardrails as code: the guard capability's detectors, each a pure function over text.

- :mod:`~aiflows_runtime.guardrails.normalize` undoes the disguises (zero-width
  characters, look-alike letters, spaced and leet-speak words) before any rule runs;
- :mod:`~aiflows_runtime.guardrails.injection`: prompt injection, in layers (the
  versioned rules of ``policies/injection.toml``, then heuristics);
- :mod:`~aiflows_runtime.pii` (one level up): PII, with checksums;
- :mod:`~aiflows_runtime.guardrails.content`: the deny and allow lists of
  ``policies/content.toml``;
- :mod:`~aiflows_runtime.guardrails.inputs`: size, type and encoding;
- :mod:`~aiflows_runtime.guardrails.services`: Amazon Bedrock Guardrails and Amazon
  Comprehend, when configured.

The guard capability (``functions/guard/logic.py``) turns their findings into one
outcome (block, review, redact or pass) by the policy's rules.
"""
