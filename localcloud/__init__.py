"""The local cloud: deploy the synthesized cloud assembly into an in-process moto and run it.

See ``docs/local-cloud.md`` for what it does, what it changes in moto and why.

``LocalCloud`` and its companions load moto when first asked for, not when a module of this
package is imported: the ``aiflows`` CLI reads a template with :mod:`localcloud.state_machines`
and never starts a cloud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import Deployment, LocalCloud, LocalCloudError

__all__ = ["Deployment", "LocalCloud", "LocalCloudError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from localcloud import cloud

        return getattr(cloud, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
