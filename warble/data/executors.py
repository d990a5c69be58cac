"""Executors run the pipeline's independent shard tasks: local processes by default, or a Ray cluster.

Both call the same top-level task functions with the same arguments and return results in task order, and the
tasks write their outputs to the (shared) filesystem themselves, so the two executors give identical corpora.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from typing import Any, Callable, Sequence

from tqdm import tqdm

EXECUTORS = ("local", "ray")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _single_thread() -> None:
    # One BLAS/Arrow thread per worker: the parallelism is across processes, and oversubscribing 2 cores
    # makes every worker slower.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import pyarrow

        pyarrow.set_cpu_count(1)
    except Exception:  # pragma: no cover - pyarrow always present, but never fail a worker over a hint
        pass


def run_tasks(
    fn: Callable[..., dict],
    tasks: Sequence[tuple],
    *,
    executor: str = "local",
    workers: int = 0,
    desc: str = "",
    progress: bool = True,
    count_key: str | None = None,
) -> list[dict]:
    """`[fn(*t) for t in tasks]`, in parallel. `count_key` names a result field summed into the progress bar."""
    workers = workers or default_workers()
    bar = tqdm(total=len(tasks), desc=desc, unit="task", disable=not progress, dynamic_ncols=True, leave=True)
    done = 0

    def tick(result: dict) -> None:
        nonlocal done
        if count_key:
            done += int(result.get(count_key, 0))
            rate = done / max(bar.format_dict["elapsed"], 1e-9)
            bar.set_postfix_str(f"{done:,} posts, {rate:,.0f} posts/s")
        bar.update(1)

    try:
        if executor == "ray":
            return _run_ray(fn, tasks, workers, tick)
        if workers == 1 or len(tasks) <= 1:
            results = []
            for t in tasks:
                results.append(fn(*t))
                tick(results[-1])
            return results
        results: list[Any] = [None] * len(tasks)
        # Not fork: a parent that already ran a stage holds BLAS/model threads, and a forked child can inherit
        # one of their locks held and hang forever. forkserver children start from a clean process.
        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(min(workers, len(tasks)), initializer=_single_thread) as pool:
            indexed = [(i, (fn, t)) for i, t in enumerate(tasks)]
            for i, r in pool.imap_unordered(_indexed_call, indexed):
                results[i] = r
                tick(r)
        return results
    finally:
        bar.close()


def _indexed_call(item: tuple[int, tuple[Callable, tuple]]) -> tuple[int, Any]:
    i, (fn, args) = item
    return i, fn(*args)


def _run_ray(fn: Callable, tasks: Sequence[tuple], workers: int, tick: Callable[[dict], None]) -> list[dict]:
    """Ray Data: a dataset of task indices mapped through `fn`; works on a local instance or a cluster.

    Connects to the cluster named by RAY_ADDRESS if set, else starts a local instance with `workers` CPUs.
    """
    try:
        import ray
    except ImportError:
        from warble.errors import ConfigError

        raise ConfigError("--executor ray needs Ray: pip install 'warble[ray]'") from None
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            num_cpus=None if os.environ.get("RAY_ADDRESS") else workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False

    def apply(row: dict) -> dict:
        _single_thread()
        i = int(row["i"])
        # JSON keeps Ray Data from inferring (and failing to unify) an Arrow schema for the result dicts.
        return {"i": i, "result": json.dumps(fn(*tasks[i]))}

    ds = ray.data.from_items([{"i": i} for i in range(len(tasks))], override_num_blocks=max(1, len(tasks)))
    results: list[Any] = [None] * len(tasks)
    for row in ds.map(apply, num_cpus=1).iter_rows():
        results[row["i"]] = json.loads(row["result"])
        tick(results[row["i"]])
    return results
