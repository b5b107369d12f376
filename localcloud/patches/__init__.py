"""moto's patches, in one place: one module per service, installed for one running cloud.

    patches = install(cloud)   # LocalCloud.start
    ...
    patches.restore()          # LocalCloud.stop: moto is as it was

Each patch replaces one attribute of moto through :meth:`Patches.replace`, which
checks that the attribute is still there, or adds one moto lacks through
:meth:`Patches.add`, which checks that it is still missing; CloudFormation resource
types moto does not model are given models (:class:`ResourceModel`) through
:meth:`Patches.model_resources`, which checks that moto still lacks them. The patches were written against one
moto version, :data:`MOTO_VERSION`; another version is refused when they are
installed (:class:`MotoChanged` says what to re-check), so a moto upgrade never
silently runs a patch against code it was not written for. Patched code reaches
the running cloud through the ``cloud`` it was installed with, never a global.
The divergences the patches fix are listed in ``docs/local-cloud.md``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

MOTO_VERSION = "5.2.5"  # the moto every patch here was read against; requirements.txt pins it

_MISSING = object()
_installed_lock = threading.Lock()
_installed: Patches | None = None


class MotoChanged(RuntimeError):
    """moto is not the version the patches were written against, or lacks what one replaces."""


class ResourceModel(ABC):
    """What moto's CloudFormation asks of a resource model besides create, delete, ``Ref``
    (``physical_resource_id``) and ``Fn::GetAtt`` (``get_cfn_attribute``): its type, its attributes,
    and an update, which is a replacement when :meth:`replaced_by` says so (a property whose change
    requires one, as CloudFormation documents each), and :meth:`update` in place otherwise."""

    TYPE = ""
    ATTRIBUTES: tuple[str, ...] = ()

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def is_created(self) -> bool:
        return True  # created by the call that made it, as CloudFormation waits for

    def replaced_by(self, properties: dict[str, Any]) -> bool:
        """Whether these new properties require a replacement: by default none does."""
        return False

    @abstractmethod
    def update(self, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        """Take the new properties in place (the same physical id)."""

    @abstractmethod
    def delete(self, account_id: str, region_name: str) -> None:
        """Delete the resource, as its stack's deletion or replacement does."""

    @classmethod
    @abstractmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        """Create the resource from its template entry; the answer is the model CloudFormation keeps."""

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        if original_resource.replaced_by(properties):
            # as CloudFormation replaces: the new resource first, then the old one is deleted
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return replacement
        original_resource.update(properties, account_id, region_name)
        return original_resource


class Patches:
    """The attributes replaced in moto, and what they were, so that :meth:`restore` undoes them."""

    def __init__(self) -> None:
        installed = version("moto")
        if installed != MOTO_VERSION:
            raise MotoChanged(
                f"the local cloud's patches were written against moto {MOTO_VERSION}, and moto "
                f"{installed} is installed: read each patch in localcloud/patches/ against the new "
                f"moto, then set MOTO_VERSION there and the pin in requirements.txt together"
            )
        self._replaced: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, replacement: Any) -> Any:
        """Put ``replacement`` at ``owner.name``; return what was there."""
        original = owner.__dict__.get(name, _MISSING) if hasattr(owner, "__dict__") else _MISSING
        if original is _MISSING and not hasattr(owner, name):
            raise MotoChanged(
                f"moto {MOTO_VERSION}'s {getattr(owner, '__name__', owner)!s} has no {name!r} to patch: "
                "moto changed under the local cloud (see localcloud/patches/)"
            )
        current = getattr(owner, name)
        self._replaced.append((owner, name, original))
        setattr(owner, name, replacement)
        return current

    def add(self, owner: Any, name: str, value: Any) -> None:
        """Give ``owner`` an attribute moto lacks; if moto has grown one, its own must be read first."""
        if hasattr(owner, name):
            raise MotoChanged(
                f"moto {MOTO_VERSION}'s {getattr(owner, '__name__', owner)!s} now has {name!r}, which the "
                "local cloud adds: read moto's before keeping the patch (see localcloud/patches/)"
            )
        self._replaced.append((owner, name, _MISSING))
        setattr(owner, name, value)

    def model_resources(self, models: dict[str, Any], by: str) -> None:
        """Give moto's CloudFormation a model for each resource type of ``models`` (type -> model);
        ``by`` names the patch, for the error when moto has grown a model of its own."""
        from moto.cloudformation import parsing

        modeled_by_moto = parsing.get_model_map

        def with_models() -> dict[str, Any]:
            modeled = modeled_by_moto()
            present = set(models) & set(modeled)
            if present:
                raise MotoChanged(
                    f"moto's CloudFormation now models {', '.join(sorted(present))}, which "
                    f"localcloud/patches/{by}.py adds: read moto's before keeping the patch"
                )
            return {**modeled, **models}

        self.replace(parsing, "get_model_map", with_models)

    def restore(self) -> None:
        global _installed
        for owner, name, original in reversed(self._replaced):
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._replaced.clear()
        with _installed_lock:
            if _installed is self:
                _installed = None


def install(cloud: LocalCloud) -> Patches:
    """Patch moto for ``cloud``; one cloud's patches at a time, since moto is process-wide."""
    global _installed
    from localcloud.patches import (
        apigateway,
        awslambda,
        bedrock,
        cloudformation,
        cloudwatch,
        cognito,
        dynamodb,
        events,
        guardrails,
        logs,
        server,
        ssm,
        stepfunctions,
        xray,
    )

    with _installed_lock:
        if _installed is not None:
            raise RuntimeError("a LocalCloud is already running in this process")
        patches = Patches()
        _installed = patches
    try:
        for service in (
            server,
            cloudformation,
            apigateway,
            cloudwatch,
            cognito,
            dynamodb,
            awslambda,
            events,
            bedrock,
            guardrails,
            ssm,
            stepfunctions,
            logs,  # after stepfunctions: it wraps the execution that patches set up
            xray,
        ):
            service.install(patches, cloud)
    except BaseException:
        patches.restore()
        raise
    return patches
