"""Training and evaluation: recipes, a short loop plus hooks, metrics, safetensors checkpoints with exact
resume, and the candidate-evaluation function search uses."""

from vidnas.train._api import clip_dataset, clip_geometry, evaluate_candidate, evaluate_candidate_in_process, evaluate_weights, load_checkpoint, resolve_data, train_model, trained_clips
from vidnas.train._benchmark import Benchmark, RuntimeRow, benchmark_network
from vidnas.train._checkpoint import CheckpointError, read_sidecar, save_checkpoint
from vidnas.train._loop import make_optimizer
from vidnas.train._loop import CheckpointHook, Divergence, EvaluationHook, Hook, JsonlHook, ProgressHook, Trainer, evaluate
from vidnas.train._metrics import average_precision, classification_report, confusion_matrix, mean_average_precision, save_confusion_png, topk_correct
from vidnas.train._recipe import Recipe, load_recipe

__all__ = [
    "make_optimizer",
    "Benchmark",
    "RuntimeRow",
    "benchmark_network",
    "trained_clips",
    "CheckpointError",
    "CheckpointHook",
    "Divergence",
    "EvaluationHook",
    "Hook",
    "JsonlHook",
    "ProgressHook",
    "Recipe",
    "Trainer",
    "average_precision",
    "classification_report",
    "clip_dataset",
    "clip_geometry",
    "confusion_matrix",
    "evaluate",
    "evaluate_candidate",
    "evaluate_candidate_in_process",
    "evaluate_weights",
    "load_checkpoint",
    "load_recipe",
    "mean_average_precision",
    "read_sidecar",
    "resolve_data",
    "save_checkpoint",
    "save_confusion_png",
    "topk_correct",
    "train_model",
]
