"""API Gateway in the local cloud: the REST API's authorizer and its stage, which moto's
CloudFormation does not model.

- ``AWS::ApiGateway::Authorizer``: the REST API had no authorizer, and nothing held the user pools
  it trusts. Here it is created in moto's API Gateway (``get-authorizers`` lists it, with its
  ``providerARNs`` resolved to the stack's pools, :mod:`.cognito`), and the methods'
  ``AuthorizerId`` resolves to its id: the local console reads which pools its
  ``COGNITO_USER_POOLS`` authorizer names from there (``localcloud/console.py``).
- ``AWS::ApiGateway::Stage``: the stage was skipped, so its ``Ref`` (the stage's name, as
  CloudFormation documents the return value) resolved to nothing and the invoke URL the stack
  outputs read ``…/None/`` (``ReviewApiUrl``). Here it is created on its deployment
  (``get-stages`` lists it, with its deployment id, description, variables and tracing), and a
  redeploy moves it to the new deployment, as CloudFormation updates a stage in place.
- ``AWS::ApiGateway::Method`` keeps its ``AuthorizerId`` and ``AuthorizationScopes`` (moto's model
  dropped both, so no method named the authorizer that guards it); the local invoke URL
  (``localcloud/rest_apis.py``) checks a method's token with exactly that authorizer.
- ``AWS::ApiGateway::Deployment``'s ``Ref`` is the deployment's id, as CloudFormation documents it
  (moto's model gave none, and a ``Ref`` of it resolved to moto's object).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.patches import ResourceModel

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

AUTHORIZER = "AWS::ApiGateway::Authorizer"
STAGE = "AWS::ApiGateway::Stage"


def _apigateway(account_id: str, region_name: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends[account_id][region_name]


class LocalAuthorizer(ResourceModel):
    """``AWS::ApiGateway::Authorizer``, in moto's API Gateway: ``Ref`` is the authorizer's id."""

    TYPE = AUTHORIZER
    ATTRIBUTES = ("AuthorizerId",)

    def __init__(self, rest_api_id: str, authorizer: Any) -> None:
        self.rest_api_id = rest_api_id
        self.authorizer = authorizer

    @property
    def physical_resource_id(self) -> str:
        return str(self.authorizer.id)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return str(self.authorizer.id)

    @staticmethod
    def _settings(properties: dict[str, Any]) -> dict[str, Any]:
        ttl = properties.get("AuthorizerResultTtlInSeconds")
        return {
            "provider_arns": [str(arn) for arn in properties.get("ProviderARNs") or []] or None,
            "auth_type": properties.get("AuthType"),
            "authorizer_uri": properties.get("AuthorizerUri"),
            "authorizer_credentials": properties.get("AuthorizerCredentials"),
            "identity_source": properties.get("IdentitySource"),
            "identiy_validation_expression": properties.get("IdentityValidationExpression"),
            "authorizer_result_ttl": int(ttl) if ttl is not None else 300,  # API Gateway's default
        }

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LocalAuthorizer:
        properties = cloudformation_json.get("Properties", {})
        rest_api_id = properties["RestApiId"]
        authorizer = _apigateway(account_id, region_name).create_authorizer(
            rest_api_id,
            properties.get("Name") or resource_name,
            properties["Type"],
            **cls._settings(properties),
        )
        return cls(rest_api_id, authorizer)

    def replaced_by(self, properties: dict[str, Any]) -> bool:
        return bool(properties["RestApiId"] != self.rest_api_id)  # another API

    def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        authorizer = self.authorizer
        settings = self._settings(properties)
        authorizer.name = properties.get("Name") or authorizer.name
        authorizer.type = properties["Type"]
        authorizer.provider_arns = settings["provider_arns"]
        authorizer.auth_type = settings["auth_type"]
        authorizer.authorizer_uri = settings["authorizer_uri"]
        authorizer.authorizer_credentials = settings["authorizer_credentials"]
        authorizer.identity_source = settings["identity_source"]
        authorizer.identity_validation_expression = settings["identiy_validation_expression"]
        authorizer.authorizer_result_ttl = settings["authorizer_result_ttl"]

    def delete(self, account_id: str, region_name: str) -> None:
        api = _apigateway(account_id, region_name).apis.get(self.rest_api_id)
        if api is not None:
            api.authorizers.pop(self.authorizer.id, None)


class LocalStage(ResourceModel):
    """``AWS::ApiGateway::Stage``, on its deployment in moto's API Gateway: ``Ref`` is the stage's name."""

    TYPE = STAGE

    def __init__(self, rest_api_id: str, stage_name: str) -> None:
        self.rest_api_id = rest_api_id
        self.stage_name = stage_name

    @property
    def physical_resource_id(self) -> str:
        return self.stage_name

    def get_cfn_attribute(self, attribute_name: str) -> str:
        raise KeyError(attribute_name)  # a stage has no Fn::GetAtt return values

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LocalStage:
        properties = cloudformation_json.get("Properties", {})
        stage = _apigateway(account_id, region_name).create_stage(
            properties["RestApiId"],
            properties["StageName"],
            properties["DeploymentId"],
            variables=dict(properties.get("Variables") or {}),
            description=properties.get("Description") or "",
            tracing_enabled=bool(properties.get("TracingEnabled")),
        )
        return cls(properties["RestApiId"], stage.name)

    def replaced_by(self, properties: dict[str, Any]) -> bool:
        return bool((properties["RestApiId"], properties["StageName"]) != (self.rest_api_id, self.stage_name))

    def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        api = _apigateway(account_id, region_name).get_rest_api(self.rest_api_id)
        stage = api.stages[self.stage_name]
        stage.deployment_id = properties["DeploymentId"]  # a redeploy: the stage serves the new one
        stage.description = properties.get("Description") or ""
        stage.variables = dict(properties.get("Variables") or {})
        stage.tracing_enabled = bool(properties.get("TracingEnabled"))

    def delete(self, account_id: str, region_name: str) -> None:
        api = _apigateway(account_id, region_name).apis.get(self.rest_api_id)
        if api is not None:
            api.stages.pop(self.stage_name, None)


MODELS: dict[str, type[ResourceModel]] = {model.TYPE: model for model in (LocalAuthorizer, LocalStage)}


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto.apigateway.models import Deployment, Method

    patches.model_resources(dict(MODELS), by="apigateway")
    create_method = Method.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        method = create_method(cls, resource_name, cloudformation_json, *args, **kwargs)
        properties = cloudformation_json["Properties"]
        method.authorizer_id = properties.get("AuthorizerId")
        method.authorization_scopes = properties.get("AuthorizationScopes")
        return method

    patches.replace(Method, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
    # AWS::ApiGateway::Deployment's Ref is the deployment's id (CloudFormation's return values); moto's
    # model has no physical id, so a Ref of it (a stage's DeploymentId) resolved to the object itself
    patches.add(Deployment, "physical_resource_id", property(lambda deployment: str(deployment.id)))
