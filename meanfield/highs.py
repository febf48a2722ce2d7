"""One linear programme handed to HiGHS (highspy) and its solution, for the planners that
build their own matrices (`meanfield.community`, `logistics.optimum`).

The matrix comes by columns (CSC); `Triplets` builds one entry block by entry block. The
solver runs single-threaded and quiet; anything but an optimal status raises `LpError`
with HiGHS's own words.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
INF = highspy.kHighsInf



def _banner_to_devnull() -> None:
    """HiGHS writes its banner to file descriptor 1 once per process, when the first
    instance is made, before any option can turn it off (ERGO-Code/HiGHS#1932): make that
    instance here with fd 1 on /dev/null, so a daemon's stdout holds only its JSON logs."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_banner_to_devnull()

class LpError(RuntimeError):
    """HiGHS found no optimal solution (infeasible data, numerical trouble)."""


@dataclass(frozen=True)
class Solution:
    x: Floats            # column values
    duals: Floats        # row duals (∂objective/∂rhs)
    objective: float
    solve_s: float


class Triplets:
    """A sparse matrix built entry by entry, handed to HiGHS by columns."""

    def __init__(self) -> None:
        self.rows: list[npt.NDArray[np.int64]] = []
        self.cols: list[npt.NDArray[np.int64]] = []
        self.vals: list[Floats] = []

    def add(self, rows: npt.ArrayLike, cols: npt.ArrayLike, vals: npt.ArrayLike) -> None:
        r = np.asarray(rows, dtype=np.int64)
        self.rows.append(r)
        self.cols.append(np.broadcast_to(np.asarray(cols, dtype=np.int64), r.shape))
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), r.shape))

    def storage(self, rows: npt.NDArray[np.int64], charge: npt.NDArray[np.int64],
                discharge: npt.NDArray[np.int64], stored: npt.NDArray[np.int64],
                later: npt.NDArray[np.bool_], eta: float | Floats, dt: float) -> None:
        """A battery's energy balance, one row a step: stored_t − stored_(t−1) − η·charge·dt
        + discharge·dt/η (the step before the first is the start, on the right-hand side)."""
        self.add(rows, charge, -eta * dt)
        self.add(rows, discharge, dt / eta)
        self.add(rows, stored, 1.0)
        self.add(rows[later], stored[later] - 1, -1.0)

    def csc(self, ncol: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], Floats]:
        rows, cols = np.concatenate(self.rows), np.concatenate(self.cols)
        vals = np.concatenate(self.vals)
        order = np.lexsort((rows, cols))
        start = np.concatenate([[0], np.cumsum(np.bincount(cols[order], minlength=ncol))])
        return start.astype(np.int32), rows[order].astype(np.int32), vals[order]


def solve_lp(cost: Floats, lower: Floats, upper: Floats, row_lower: Floats,
             row_upper: Floats, csc: tuple[npt.NDArray[np.int32], npt.NDArray[np.int32],
                                           Floats], *, method: str = "ipm") -> Solution:
    """Minimise cost·x subject to row_lower ≤ A x ≤ row_upper, lower ≤ x ≤ upper."""
    start, index, value = csc
    ncol, nrow = int(cost.size), int(row_lower.size)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = ncol, nrow
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = ncol, nrow
    lp.a_matrix_.start_ = np.asarray(start, dtype=np.int32)
    lp.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.asarray(value, dtype=np.float64)
    solver = highspy.Highs()  # type: ignore[no-untyped-call]
    solver.setOptionValue("output_flag", False)
    # "ipm_interior": the interior point without crossover: among equally good plans the
    # one in the middle (a battery spreads its work over equal-price steps) rather than a
    # vertex (all at once in some, nothing in others).
    solver.setOptionValue("solver", "ipm" if method == "ipm_interior" else method)
    if method == "ipm_interior":
        solver.setOptionValue("run_crossover", "off")
    solver.setOptionValue("threads", 1)
    solver.passModel(lp)
    began = time.perf_counter()
    solver.run()
    took = time.perf_counter() - began
    status = solver.modelStatusToString(solver.getModelStatus())
    if status != "Optimal":
        raise LpError(f"HiGHS: {status}")
    sol = solver.getSolution()
    return Solution(np.asarray(sol.col_value), np.asarray(sol.row_dual),
                    float(solver.getInfo().objective_function_value), took)
