"""Who trains a search step's candidates: this process one after another, or Ray tasks in parallel.

Both executors take the same jobs (a key and an argument per candidate) and a function that trains one, and call
``on_done(key, result)`` as each candidate finishes, so the search can write its state after every candidate
whatever the completion order. The function must catch its own failures and return them as results (a diverged
candidate is a result, not a crash); only a worker that dies is the executor's business:

* :class:`LocalExecutor` — the default on one CPU: plain calls in this process.
* :class:`RayExecutor` — each candidate a Ray task (``num_gpus=gpus_per_candidate`` on GPU nodes, so fractions pack
  several small candidates on one GPU), at most ``workers`` at once. ``ray_address=None`` starts a local Ray; an
  address joins a running cluster. A task whose worker process dies is retried once by Ray (``max_retries=1``); a
  second death comes back as a failed result naming the error. Large read-only inputs (the training images) go to
  the object store once per executor (``shared``) and reach every task by reference. A local Ray stays up for
  the rest of the session (``ray.shutdown()`` ends it). ``resources(arg)`` may size one task (DGGAN's
  ``gpus_follow_size``: ``{"num_gpus": share}`` from the candidate's conv cost); the local executor ignores it.
"""
from __future__ import annotations

import socket
import time
from typing import Any, Callable, Sequence

from gancore.errors import ConfigError

Job = tuple[str, Any]  # (key, argument of the train function)
OnDone = Callable[[str, dict], None]
Resources = Callable[[Any], dict]  # a job's argument -> Ray task options (e.g. {"num_gpus": 0.25})


class LocalExecutor:
    """Candidates one after another in this process."""

    name = "local"

    def run(self, fn: Callable[[Any, Any], dict], jobs: Sequence[Job], *, shared: Any, on_done: OnDone,
            resources: Resources | None = None) -> None:
        for key, arg in jobs:
            on_done(key, fn(arg, shared))


def check_ray_address(address: str | None, *, timeout: float = 5.0) -> None:
    """Refuse an address that cannot be reached before anything trains (Ray itself waits minutes, then exits the
    process). ``None`` (a local Ray) and ``"auto"`` (a cluster started on this machine) are left to Ray."""
    if address in (None, "", "auto", "local"):
        return
    how = ("To run on this machine instead, leave ray_address unset (None: a local Ray) or pass executor='local'.")
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"ray_address={address!r} is not host:port (e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001). "
                          + how)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConfigError(f"the Ray cluster at ray_address={address!r} cannot be reached ({e}). Start it with "
                          f"`ray start --head` on that machine, or check the address. " + how) from None


class RayExecutor:
    """Candidates as Ray tasks, at most ``workers`` at once; results in completion order."""

    name = "ray"

    def __init__(self, *, address: str | None, workers: int, gpus_per_candidate: float, use_gpu: bool,
                 cpus_per_candidate: int = 1) -> None:
        import ray

        check_ray_address(address)
        if not ray.is_initialized():
            try:
                if address in (None, ""):
                    # A local Ray sized for this search: no dashboard, quiet workers.
                    ray.init(num_cpus=max(workers * cpus_per_candidate, 1), include_dashboard=False,
                             log_to_driver=False, configure_logging=False)
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise ConfigError(f"Ray could not start or join ray_address={address!r}: {e}. To run locally, leave "
                                  "ray_address unset (a local Ray) or pass executor='local'.") from None
        self._ray = ray
        self._shared: tuple[Any, Any] | None = None  # (object, its object-store ref): put once per search
        self.workers, self.use_gpu = workers, use_gpu
        self.options = {"num_cpus": cpus_per_candidate, "num_gpus": gpus_per_candidate if use_gpu else 0,
                        "max_retries": 1, "retry_exceptions": False}

    def check_paths(self, paths: Sequence[str]) -> None:
        """Every node of the cluster sees ``paths`` (the data store, the search folder): a multi-node search needs
        them on a shared filesystem, which is refused here with the node that lacks one, before anything trains."""
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = [n for n in ray.nodes() if n.get("Alive")]
        probe = ray.remote(_missing_paths)
        refs = {probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(list(paths)): n.get("NodeManagerAddress", n["NodeID"]) for n in nodes}
        for ref, node in refs.items():
            missing = ray.get(ref)
            if missing:
                raise ConfigError(f"Ray node {node} cannot see {', '.join(missing)}: a multi-node search needs the "
                                  "data store (store_dir) and out_dir on a filesystem every node shares")

    def task_options(self, arg: Any, resources: Resources | None) -> dict:
        """Ray options of one task: the executor's, with ``resources(arg)`` on top (GPUs only on GPU nodes)."""
        extra = dict(resources(arg)) if resources else {}
        if not self.use_gpu:
            extra.pop("num_gpus", None)
        return {**self.options, **extra}

    def run(self, fn: Callable[[Any, Any], dict], jobs: Sequence[Job], *, shared: Any, on_done: OnDone,
            resources: Resources | None = None) -> None:
        ray = self._ray
        if not jobs:
            return
        task = ray.remote(_call_in_worker).options(**self.options)
        if self._shared is None or self._shared[0] is not shared:
            self._shared = (shared, ray.put(shared))  # the training images cross to the object store once
        shared_ref = self._shared[1]
        pending: dict[Any, str] = {}
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < self.workers:
                key, arg = queue.pop(0)
                call = task.options(**self.task_options(arg, resources)) if resources else task
                pending[call.remote(fn, arg, shared_ref, self.options["num_cpus"])] = key
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            key = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as e:  # the worker died twice (Ray retried once), or the task could not run
                result = {"status": "failed", "error": f"{type(e).__name__}: {str(e).splitlines()[0][:400]}",
                          "worker_died": True}
            on_done(key, result)


def _missing_paths(paths: list[str]) -> list[str]:
    from pathlib import Path

    return [p for p in paths if not Path(p).exists()]


def _call_in_worker(fn: Callable[[Any, Any], dict], arg: Any, shared: Any, num_cpus: int) -> dict:
    import torch

    torch.set_num_threads(max(1, int(num_cpus)))  # Ray's CPU slot, so parallel candidates do not oversubscribe
    t0 = time.perf_counter()
    result = fn(arg, shared)
    result.setdefault("worker_seconds", round(time.perf_counter() - t0, 3))
    return result


def make_executor(*, kind: str, address: str | None, workers: int, gpus_per_candidate: float, use_gpu: bool):
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        return RayExecutor(address=address, workers=workers, gpus_per_candidate=gpus_per_candidate, use_gpu=use_gpu)
    raise ConfigError(f"executor={kind!r}; choose 'local' or 'ray'")


__all__ = ["LocalExecutor", "RayExecutor", "check_ray_address", "make_executor"]
