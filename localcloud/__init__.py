"""The local cloud: deploy the synthesized cloud assembly into an in-process moto and run it.

See ``docs/local-cloud.md`` for what it does, what it changes in moto and why.
"""

from localcloud.cloud import Deployment, LocalCloud, LocalCloudError

__all__ = ["Deployment", "LocalCloud", "LocalCloudError"]
