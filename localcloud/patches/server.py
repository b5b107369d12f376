"""moto's request handling, without the work it repeats for every request.

What moto's server does per request that gives the same answer every time, done once:

- finding a request's service, its dispatcher lists moto's package directory (``os.listdir``
  and an ``isdir`` for each of its 150-odd entries), under the lock that every request of the
  server takes: the list, read once;
- calling an action, moto's responses list the public methods of their class through
  ``inspect.getmembers`` (1 to 3 ms for the large ones, DynamoDB's or Step Functions'): the
  names, read once per class.

Neither changes an answer: the package's directory and a class's methods do not change while
the cloud runs. A DynamoDB ``GetItem`` on the local endpoint took 12 ms, and takes 5.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.patches import Patches


def install(patches: Patches, cloud: LocalCloud) -> None:
    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    patches.replace(backends, "list_of_moto_modules", lambda: modules)

    names = functools.cache(responses.method_names_from_class)

    def method_names_from_class(clazz: object) -> list[str]:
        return list(names(clazz))  # a copy: a caller may change its list

    patches.replace(responses, "method_names_from_class", method_names_from_class)
