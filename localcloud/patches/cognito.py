"""Cognito in the local cloud: the stack's user pool, its app clients and its groups.

- moto's CloudFormation does not model ``AWS::Cognito::UserPool``, ``AWS::Cognito::UserPoolClient``
  or ``AWS::Cognito::UserPoolGroup``: it skipped them, so the stack had no user pool, a ``Ref`` or
  ``Fn::GetAtt`` of one resolved to nothing, and DescribeStacks left out the outputs naming them.
  CloudFormation creates each in Cognito: here each is created in moto's cognito-idp, whose API
  (``admin-create-user``, ``admin-add-user-to-group``, ``admin-initiate-auth``…) then answers for
  it. What a template names resolves as CloudFormation documents it (the "Return values" of each
  type): a pool's ``Ref`` is its id, ``Fn::GetAtt`` its ``Arn``, ``ProviderName``, ``ProviderURL``
  and ``UserPoolId``; a client's ``Ref`` is its client id, ``Fn::GetAtt`` its ``ClientId``, ``Name``
  and ``ClientSecret``; a group's ``Ref`` is its name. A redeploy updates each in place (a pool
  keeps its id, and its users), as CloudFormation updates these properties without replacement.
(The API's authorizer, which names these pools, is API Gateway's: :mod:`.apigateway`.)

moto's cognito-idp signs every pool's tokens with one key (``kid`` ``dummy``, its JWKS at
``<endpoint>/<pool id>/.well-known/jwks.json``), so a token of another pool has a good signature:
its ``iss`` is what tells the pools apart, as the console checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.patches import ResourceModel

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches

USER_POOL = "AWS::Cognito::UserPool"
USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"
USER_POOL_GROUP = "AWS::Cognito::UserPoolGroup"

# CloudFormation properties that are not CreateUserPool's request parameters
_NOT_POOL_CONFIG = ("UserPoolName", "EnabledMfas")


def _cognito(account_id: str, region_name: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    return cognitoidp_backends[account_id][region_name]


def _pool_config(properties: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in properties.items() if k not in _NOT_POOL_CONFIG}


def _set_mfas(pool: Any, properties: dict[str, Any]) -> None:
    """``EnabledMfas`` is SetUserPoolMfaConfig's, not CreateUserPool's: applied as that call does."""
    enabled = properties.get("EnabledMfas") or []
    pool.token_mfa_config = {"Enabled": True} if "SOFTWARE_TOKEN_MFA" in enabled else None
    pool.mfa_config = properties.get("MfaConfiguration") or "OFF"


class LocalUserPool(ResourceModel):
    """``AWS::Cognito::UserPool``: ``Ref`` is the pool's id."""

    TYPE = USER_POOL
    ATTRIBUTES = ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @property
    def physical_resource_id(self) -> str:
        return str(self.pool.id)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        provider = f"cognito-idp.{self.pool.region}.amazonaws.com/{self.pool.id}"
        return {
            "Arn": str(self.pool.arn),
            "ProviderName": provider,
            "ProviderURL": f"https://{provider}",
            "UserPoolId": str(self.pool.id),
        }[attribute_name]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LocalUserPool:
        properties = cloudformation_json.get("Properties", {})
        backend = _cognito(account_id, region_name)
        pool = backend.create_user_pool(
            properties.get("UserPoolName") or resource_name, _pool_config(properties)
        )
        _set_mfas(pool, properties)
        return cls(pool)

    def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        """In place: the same id, the same users."""
        _cognito(account_id, region_name).update_user_pool(self.pool.id, _pool_config(properties))
        self.pool.name = properties.get("UserPoolName") or self.pool.name
        _set_mfas(self.pool, properties)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _cognito(account_id, region_name)
        if self.pool.id in backend.user_pools:
            backend.delete_user_pool(self.pool.id)


class LocalUserPoolClient(ResourceModel):
    """``AWS::Cognito::UserPoolClient``: ``Ref`` is the client id."""

    TYPE = USER_POOL_CLIENT
    ATTRIBUTES = ("ClientId", "ClientSecret", "Name")

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def physical_resource_id(self) -> str:
        return str(self.client.id)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {
            "ClientId": str(self.client.id),
            "ClientSecret": str(self.client.secret),
            "Name": str(self.client.extended_config.get("ClientName") or ""),
        }[attribute_name]

    @staticmethod
    def _config(properties: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in properties.items() if k not in ("UserPoolId", "GenerateSecret")}

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LocalUserPoolClient:
        properties = cloudformation_json.get("Properties", {})
        client = _cognito(account_id, region_name).create_user_pool_client(
            properties["UserPoolId"], bool(properties.get("GenerateSecret")), cls._config(properties)
        )
        return cls(client)

    def replaced_by(self, properties: dict[str, Any]) -> bool:
        return bool(properties.get("UserPoolId") != self.client.user_pool_id)  # another pool

    def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        self.client.extended_config.update(self._config(properties))

    def delete(self, account_id: str, region_name: str) -> None:
        pool = _cognito(account_id, region_name).user_pools.get(self.client.user_pool_id)
        if pool is not None:
            pool.clients.pop(self.client.id, None)


class LocalUserPoolGroup(ResourceModel):
    """``AWS::Cognito::UserPoolGroup``: ``Ref`` is the group's name."""

    TYPE = USER_POOL_GROUP

    def __init__(self, user_pool_id: str, group_name: str) -> None:
        self.user_pool_id = user_pool_id
        self.group_name = group_name

    @property
    def physical_resource_id(self) -> str:
        return self.group_name

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> LocalUserPoolGroup:
        properties = cloudformation_json.get("Properties", {})
        group = _cognito(account_id, region_name).create_group(
            properties["UserPoolId"],
            properties.get("GroupName") or resource_name,
            properties.get("Description"),
            properties.get("RoleArn"),
            properties.get("Precedence"),
        )
        return cls(group.user_pool_id, group.group_name)

    def replaced_by(self, properties: dict[str, Any]) -> bool:
        name = properties.get("GroupName") or self.group_name
        return properties.get("UserPoolId") != self.user_pool_id or name != self.group_name  # moved, renamed

    def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        _cognito(account_id, region_name).update_group(
            self.user_pool_id,
            self.group_name,
            properties.get("Description"),
            properties.get("RoleArn"),
            properties.get("Precedence"),
        )

    def delete(self, account_id: str, region_name: str) -> None:
        pool = _cognito(account_id, region_name).user_pools.get(self.user_pool_id)
        if pool is not None and self.group_name in pool.groups:
            _cognito(account_id, region_name).delete_group(self.user_pool_id, self.group_name)


MODELS: dict[str, type[ResourceModel]] = {
    model.TYPE: model for model in (LocalUserPool, LocalUserPoolClient, LocalUserPoolGroup)
}


def install(patches: Patches, cloud: LocalCloud) -> None:
    patches.model_resources(dict(MODELS), by="cognito")
