"""The search engine: settings (``SearchConfig``), the loop (``run_search``), Optuna-backed studies, executors
(in-process, local process pool, Ray), resource constraints and the evaluation function."""

from __future__ import annotations

from vidnas.search._baselines import frame_blind_2d, layer_macs, scaled_zoo, simple_3d_cnn
from vidnas.search._config import DEFAULT_LATENCY_MS, ConstraintSpec, SearchConfig, parse_budget
from vidnas.search._constraint import Constraint
from vidnas.search._engine import DATA_ATTR, Search, SearchResult, build_space, prepare_data, run_search
from vidnas.search._evaluate import CandidateResult, CandidateTask, evaluate_payload
from vidnas.search._executors import DEFAULT_EVALUATOR, InProcessExecutor, LocalExecutor, RayExecutor, make_executor, run_payload
from vidnas.search._executors import _init_worker as init_worker
from vidnas.search._fidelity import chance_level, threshold
from vidnas.search._fidelity import describe as describe_probe
from vidnas.search._final import KINDS, SHORT, summarise, verdict
from vidnas.search._study import StoredTrial, Study, current
from vidnas.search._synthetic import objective as synthetic_objective

__all__ = [
    "SearchConfig", "ConstraintSpec", "DEFAULT_LATENCY_MS", "parse_budget", "Constraint", "Search", "SearchResult", "run_search", "prepare_data",
    "evaluate_payload", "CandidateTask", "CandidateResult", "DEFAULT_EVALUATOR", "InProcessExecutor", "LocalExecutor", "RayExecutor", "make_executor", "Study", "StoredTrial",
    "current", "summarise", "verdict", "KINDS", "SHORT", "describe_probe",
    "DATA_ATTR", "build_space", "simple_3d_cnn", "frame_blind_2d", "scaled_zoo", "layer_macs", "chance_level", "threshold", "run_payload", "init_worker",
    "synthetic_objective",
]
