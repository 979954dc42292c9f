"""Deployment: the deploy transform (BN folding, materialised iTGM, fastest conv form per op) and export to
ONNX / TorchScript, whole-clip or single-step streaming (the deployment bundle, which checks its graphs on
onnxruntime, is ``vidnas.runtime.export_bundle``)."""

from vidnas.export._deploy import DeployConv3d, deploy_model, fold_batchnorm
from vidnas.export._export import ExportError, ExportResult, export_model, max_relative_error, onnx_session

__all__ = ["DeployConv3d", "ExportError", "ExportResult", "deploy_model", "export_model", "fold_batchnorm", "max_relative_error", "onnx_session"]
