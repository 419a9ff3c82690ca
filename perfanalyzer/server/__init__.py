"""A local Triton Inference Server (from the ``nvidia-pytriton`` wheel) and the bundled models."""

from .launcher import LaunchedServer, ServerLaunchError, TritonLauncher, bundled_model_repository

__all__ = ["LaunchedServer", "ServerLaunchError", "TritonLauncher", "bundled_model_repository"]
