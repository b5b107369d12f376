"""SSM in the local cloud: Powertools' public layer parameters, and CloudFormation's SSM parameter types.

- Powertools for AWS Lambda (Python) publishes, in each region it serves, a public parameter
  per release, architecture and runtime, ``/aws/service/powertools/python/<arch>/<python>/<version>``
  (and ``…/latest``), whose value is the ARN of the layer version carrying that release. The
  stack's functions take their Powertools layer from it (``infra/constructs/capability_function.py``).
  moto's SSM holds only some of AWS's public parameters (AMIs, regions, services), not these.
  Here they are answered for the one release the local cloud provides: the Powertools of its
  own Python environment, which ``requirements.txt`` pins and which every local function
  imports in place of the layer (``localcloud/lambdas.py``). Another release's parameter is
  ``ParameterNotFound``: the local cloud cannot run a release it does not have.
- moto's CloudFormation resolves a template parameter of type
  ``AWS::SSM::Parameter::Value<String>`` against its SSM, as CloudFormation does when it creates
  or updates the stack ("CloudFormation-supplied parameter types"), but a parameter missing from
  SSM crashes the call (an ``AttributeError``, an HTTP 500). CloudFormation refuses the stack
  before any resource is created, ``ValidationError: Unable to fetch parameters [<name>] from
  parameter store for this account.``: so here too.
"""

from __future__ import annotations

from collections import defaultdict
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"
POWERTOOLS_PREFIX = "/aws/service/powertools/python/"
# What Powertools' release workflow (update_ssm.yml) writes for each release, in each region.
POWERTOOLS_ARCHITECTURES = ("arm64", "x86_64")
POWERTOOLS_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
POWERTOOLS_PUBLISHER = "017000801446"  # the layers' account in the aws partition (localcloud/lambdas.py)
# AWS numbers each release's layer version per region; the local cloud has one release, the
# environment's, and names its layer version 1. Only the prefix matters to the local Lambda.
LOCAL_LAYER_VERSION = 1


def powertools_parameters(region: str, release: str) -> dict[str, str]:
    """The public parameters of ``release`` in ``region``, each with its layer ARN, and ``latest``."""
    parameters: dict[str, str] = {}
    for architecture in POWERTOOLS_ARCHITECTURES:
        for runtime in POWERTOOLS_RUNTIMES:
            layer = f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{architecture}"
            arn = f"arn:aws:lambda:{region}:{POWERTOOLS_PUBLISHER}:layer:{layer}:{LOCAL_LAYER_VERSION}"
            for name in (release, "latest"):
                parameters[f"{POWERTOOLS_PREFIX}{architecture}/{runtime}/{name}"] = arn
    return parameters


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.parsing import ResourceMap
    from moto.core.utils import utcnow
    from moto.ssm.models import Parameter, ParameterDict, ssm_backends
    from moto.utilities.utils import get_partition

    release = version(POWERTOOLS_DISTRIBUTION)
    check_loading_status = ParameterDict._check_loading_status

    def load_public_parameters(self: Any, key: str) -> None:
        check_loading_status(self, key)
        if not str(key or "").startswith(POWERTOOLS_PREFIX) or self.__dict__.get("powertools_loaded"):
            return
        self.powertools_loaded = True
        if get_partition(self.region_name) != "aws":
            return  # Powertools publishes no parameters outside the commercial partition
        for name, arn in powertools_parameters(self.region_name, release).items():
            defaultdict.__getitem__(self, name).append(
                Parameter(
                    account_id=self.account_id,
                    name=name,
                    value=arn,
                    parameter_type="String",
                    description=None,
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=utcnow(),
                    version=1,
                    data_type="text",
                )
            )

    patches.replace(ParameterDict, "_check_loading_status", load_public_parameters)

    parse_ssm_parameter = ResourceMap.parse_ssm_parameter

    def resolve_or_refuse(self: Any, value: str, value_type: str) -> Any:
        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            raise ValidationError(
                message=f"Unable to fetch parameters [{value}] from parameter store for this account."
            )
        return parse_ssm_parameter(self, value, value_type)

    patches.replace(ResourceMap, "parse_ssm_parameter", resolve_or_refuse)
