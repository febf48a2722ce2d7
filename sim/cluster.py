"""Where `peerwatt simulate` runs its independent runs (the seeds of `--seeds`, the points of
the `--byzantine` sweep): Dask distributed, or this process.

- `--cluster local` (the default): a `distributed.LocalCluster` of `--workers` processes
  (default one per core), one thread each, started for this command and closed after it;
- `--cluster tcp://host:port`: an existing Dask scheduler (`dask scheduler` and
  `dask worker tcp://host:port --nthreads 1` on each machine; every worker needs peerwatt
  and the data installed the same way);
- `--cluster serial`: one run after the other in this process.

The runs are pure functions of their arguments (each draws from its own seeded generator),
so every choice gives the same JSON; only `wall_s` and `peak_rss_mb` differ (the latter
measures this process). Results come back in submission order. Dask rather than Ray: it is
a pure-Python wheel already beside numpy/scipy, a LocalCluster needs no daemon, and a
scheduler address is all an existing cluster needs.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
S = TypeVar("S")


class Mapper(Protocol):
    def __call__(self, fn: Callable[[S, Any], T], items: Sequence[Any], shared: S,
                 done: Callable[[int], None] | None = None) -> list[T]: ...


def serial_map(fn: Callable[[S, Any], T], items: Sequence[Any], shared: S,
               done: Callable[[int], None] | None = None) -> list[T]:
    """`fn(shared, item)` for each item, here, in order; `done(i)` after each."""
    out = []
    for i, item in enumerate(items):
        out.append(fn(shared, item))
        if done is not None:
            done(i)
    return out


class DaskMapper:
    """`fn(shared, item)` for each item on the cluster; `shared` is sent to the workers once
    (scattered, broadcast), not once per item."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def __call__(self, fn: Callable[[S, Any], T], items: Sequence[Any], shared: S,
                 done: Callable[[int], None] | None = None) -> list[T]:
        from distributed import as_completed

        if not items:
            return []
        ref = self.client.scatter(shared, broadcast=True, hash=False)
        futures = self.client.map(fn, [ref] * len(items), list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            if f.status == "error":  # raise the run's own exception, with its traceback
                f.result()
            if done is not None:
                done(index[f.key])
        return list(self.client.gather(futures))


def check(spec: str) -> str:
    """The `--cluster` value, or a one-line ValueError."""
    if spec == "serial":
        return spec
    if spec == "local" or spec.startswith(("tcp://", "tls://", "ucx://")):
        if importlib.util.find_spec("distributed") is None:
            raise ValueError(f"--cluster {spec}: needs Dask distributed: pip install "
                             "'peerwatt[sim]' (or --cluster serial)")
        return spec
    raise ValueError(f"--cluster {spec!r}: use local, serial or a scheduler address such as "
                     "tcp://10.0.0.5:8786")


@contextmanager
def mapper(spec: str, workers: int | None) -> Iterator[Mapper]:
    """The map for `--cluster spec`; a LocalCluster is started here and closed on exit."""
    if spec == "serial":
        yield serial_map
        return
    from distributed import Client, LocalCluster  # the `sim` extra; `check` said it is there
    if spec == "local":
        n = workers or os.cpu_count() or 1
        # No memory limit: a 1,000-home run is a few hundred MB and must not be restarted.
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          memory_limit=0, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            yield DaskMapper(client)
        return
    with Client(spec, timeout=30) as client:
        yield DaskMapper(client)
