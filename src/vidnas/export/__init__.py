"""Deployment: the deploy transform (BN folding, materialised iTGM, fastest conv form per op)."""

from vidnas.export._deploy import DeployConv3d, deploy_model, fold_batchnorm

__all__ = ["DeployConv3d", "deploy_model", "fold_batchnorm"]
