"""What is measured per step and per run, for the Mesa `DataCollector` (MODEL.md).

The measures themselves are written once, in `trustsim.model.series.measure_row`. Here
they are read for a model: `measure_row(model)` computes the current step's row with numpy
(every engine can); the compiled engine also computes them inside its loop over whole
steps and hands the rows over at the end (`MeasureCollector.collect_rows`). The
DataCollector's reporters read the step's row, computed once however many ask.
"""

from __future__ import annotations

import functools

import mesa
import numpy as np

from trustsim.model import series


def measure_row(model) -> np.ndarray:
    """The current step's measures as one float64 row (columns `model.measure_names`)."""
    eng = model.engine
    now = eng.take(eng.active)
    row = np.empty(len(model.measure_names))
    series.measure_row(
        row, eng.tally, now.status, now.stage, now.satisfaction, now.reactance, now.trust_sum,
        model.new_leads, eng.numbers, eng.base_rate, model.spec.time.days_per_step,
    )  # fmt: skip
    return row


def as_dict(model, row: np.ndarray) -> dict[str, float]:
    """A row of measures by name, counts as ints and the rest as floats."""
    values = row.tolist()
    return {
        name: int(value) if count else value
        for name, value, count in zip(
            model.measure_names, values, model.measure_counts, strict=True
        )
    }


def current_row(model) -> np.ndarray:
    """This step's measures as a row, computed once per step however many readers ask."""
    if model.measured_step != model.steps:
        model.measured_row, model.measured = measure_row(model), None
        model.measured_step = model.steps
    return model.measured_row


def current(model) -> dict[str, float]:
    """This step's measures by name, computed once per step however many readers ask."""
    row = current_row(model)
    if model.measured is None:
        model.measured = as_dict(model, row)
    return model.measured


def model_reporters(model) -> dict:
    """DataCollector reporters, one per measure, reading the step's measured values."""
    return dict(_reporters(tuple(model.measure_names)))


@functools.cache
def _reporters(names: tuple[str, ...]) -> tuple:
    """(name, reporter) per measure; the same functions serve every model of a journey."""

    def reporter(name):
        def read(m):
            return current(m)[name]

        read.__name__ = name
        read.measure_name = name  # lets `MeasureCollector` read the row directly
        return read

    return tuple((name, reporter(name)) for name in names)


@functools.cache
def _column_index(names: tuple[str, ...]):
    """The frame's column index (immutable, so shared by every run of a journey)."""
    import pandas as pd

    return pd.Index(names)


class MeasureCollector(mesa.DataCollector):
    """Mesa's DataCollector, keeping the model's measures as rows of numbers.

    Each collection of the measures is a row (`trustsim.model.series.measure_row`), and
    a run of the compiled engine hands all its steps' rows at once (`collect_rows`).
    Mesa's `model_vars` (a list per reporter) is made from the rows when read, and
    `get_model_vars_dataframe` builds the same frame as Mesa's straight from them. Mesa
    would call every reporter and deep-copy its value each step, ~70 calls and copies
    that cost more than a small model's step. Given other reporters too, it collects
    as Mesa does.

    Args:
        model: the `TrustModel` whose measures it collects.
        **reporters: as `mesa.DataCollector`'s; by default one per measure
            (`model_reporters`).
    """

    def __init__(self, model, **reporters):
        model.measure_names = series.columns(model.stages.names)
        model.measure_counts = series.counts(model.stages.count).tolist()
        model.measured_step = None
        reporters.setdefault("model_reporters", model_reporters(model))
        self._rows: list[np.ndarray] = []
        self._listed = 0  # rows already in `model_vars`
        self._names, self._counts = model.measure_names, model.measure_counts
        super().__init__(**reporters)

    def collect(self, model) -> None:
        if not self.measures_only():
            super().collect(model)
            return
        self._collection_steps.append(model.time)
        self._rows.append(current_row(model)[np.newaxis])

    def collect_rows(self, model, rows: np.ndarray, first_time: float) -> None:
        """Rows of measures computed elsewhere (the compiled engine's steps), one per
        step from `first_time` on, as if collected step by step (needs `measures_only`)."""
        self._collection_steps.extend(first_time + np.arange(len(rows), dtype=float))
        self._rows.append(rows)

    @property
    def model_vars(self) -> dict[str, list]:
        """Each reporter's values, one per collection (Mesa's store, made from the rows)."""
        if len(self._rows) > self._listed:
            table = np.concatenate(self._rows[self._listed :])
            self._listed = len(self._rows)
            for at, values in enumerate(self._vars.values()):
                values.extend(self._column(table, at).tolist())
        return self._vars

    @model_vars.setter
    def model_vars(self, value: dict[str, list]) -> None:
        self._vars = value

    def _column(self, table: np.ndarray, at: int) -> np.ndarray:
        """Column `at` of rows of measures, counts as int64."""
        return table[:, at].astype(np.int64) if self._counts[at] else table[:, at]

    def get_model_vars_dataframe(self, step: str | None = None):
        """The series as a DataFrame, one column per reporter, one row per collection:
        Mesa's frame (int64 counts, float64 otherwise, index 0, 1, ...), built in one go.

        Args:
            step: also a first column of this name numbering the rows 0, 1, ... (int64).
        """
        if not self.measures_only():
            frame = super().get_model_vars_dataframe()
            if step is not None:
                frame.insert(0, step, np.arange(len(frame)))
            return frame
        import pandas as pd

        table = np.concatenate(self._rows)
        counts = np.array(self._counts, dtype=bool)
        ints, floats = np.flatnonzero(counts), np.flatnonzero(~counts)
        int_block, float_block = table[:, ints].T.astype(np.int64), table[:, floats].T.copy()
        names = tuple(self._names)
        if step is not None:  # a first column numbering the rows; every other one place on
            int_block = np.vstack((np.arange(len(table)), int_block))
            ints, floats, names = np.concatenate(([-1], ints)) + 1, floats + 1, (step, *names)
        index, columns = pd.RangeIndex(len(table)), _column_index(names)
        try:
            from pandas.api.internals import create_dataframe_from_blocks
        except ImportError:  # pandas < 2.3: column by column
            data = dict(zip(columns[ints], int_block, strict=True))
            data |= dict(zip(columns[floats], float_block, strict=True))
            return pd.DataFrame({name: data[name] for name in columns}, index=index)
        # pandas keeps the columns of one dtype as one 2-D block: two blocks, made at once.
        blocks = [(int_block, ints), (float_block, floats)]
        return create_dataframe_from_blocks(blocks, index=index, columns=columns)

    def measures_only(self) -> bool:
        """Whether the reporters are exactly the model's measures, in order (checked
        once: reporters are fixed), so the rows are the whole store."""
        if not hasattr(self, "_measures_only"):
            names = [getattr(r, "measure_name", None) for r in self.model_reporters.values()]
            self._measures_only = (
                not (self.agent_reporters or self.agenttype_reporters)
                and names == list(self.model_reporters) == self._names
            )
        return self._measures_only


def closing_snapshot(model) -> dict[str, float]:
    """Closed deals and conversion at the short horizon."""
    tally = model.engine.tally
    leads, closed = tally.leads, tally.closed
    return {"short_closed_deals": closed, "short_conversion": series.ratio(closed, leads)}


def run_summary(model) -> dict[str, float]:
    """Per-run measures: the final step's values plus the short-horizon snapshot."""
    values = dict(current(model))
    snapshot = model.short_horizon_snapshot or closing_snapshot(model)
    values.update(snapshot)
    values["steps"] = model.steps
    return values
