"""Deployments: a model version served under a name with replicas, upgraded fully or rolling, rolled back.

`service` keeps the rows and checks permissions, `controller` drives an engine per deployment: `local`
(worker processes of this host, see `replica`) or `ray` (Ray Serve, imported only when a deployment uses it).
"""

from .controller import Command, Deployments

__all__ = ["Command", "Deployments"]
