"""The search's progress line: screened candidates, candidates per rung, failures, the best score, the budget
left; then the final retraining's runs."""

from __future__ import annotations

from typing import Any

from vidnas.search._config import SearchConfig


class SearchProgress:
    """Live line: candidates screened (of the budget), how many reached each rung, failures, rejections, the
    best score at the highest rung, time left; then the final retraining's runs."""

    def __init__(self, search: Any, config: SearchConfig, ledger: Any, elapsed: Any):  # noqa: ANN401 - the engine's Search and Ledger
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.config, self.ledger, self.elapsed = config, ledger, elapsed
        self.final_total = self.final_count = 0
        total = config.trials if config.trials is not None else config.seconds
        self.progress = Progress(BarColumn(bar_width=16), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=search.console, transient=False)
        self.task = self.progress.add_task("", total=total)
        self.progress.start()
        self.refresh()

    def refresh(self) -> None:
        ledger, config = self.ledger, self.config
        if self.final_total:
            self.progress.update(self.task, total=self.final_total, completed=self.final_count,
                                 description=f"final retraining {self.final_count}/{self.final_total} runs")
            return
        elapsed = self.elapsed()
        if config.trials is not None:
            completed, left = ledger.trained, f"{max(0, config.trials - ledger.trained)} left"
        else:
            completed, left = min(elapsed, config.seconds), f"{max(0.0, config.seconds - elapsed) / 60:.1f}m left"
        rungs, best, at = ledger.halving.summary()
        shown = f"{best:.3f}@r{at}" if best is not None else "-"
        self.progress.update(self.task, completed=completed,
                             description=f"{ledger.trained} screened, rungs {rungs}, {ledger.failed} failed, {ledger.rejected} rejected · best {shown} · {left}")

    def finals(self, total: int) -> None:
        self.final_total, self.final_count = total, 0
        self.refresh()

    def final_done(self) -> None:
        self.final_count += 1
        self.refresh()

    def close(self) -> None:
        self.refresh()
        self.progress.stop()
