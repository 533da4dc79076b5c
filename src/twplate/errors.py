"""The exceptions twplate raises; catch :class:`TwplateError` to catch them all."""

from __future__ import annotations


class TwplateError(Exception):
    """Base class of every error twplate raises on purpose."""


class ImageError(TwplateError, ValueError):
    """An input is not a usable image. The message names the input."""


class ModelError(TwplateError):
    """A model is missing, corrupt, fails its checksum, or does not fit its dictionary or input layout."""


class CheckpointError(TwplateError, ValueError):
    """A training checkpoint (or a model export used as one) is missing, unreadable, or does not fit the network
    it is loaded into. The message names the file."""


class BackendUnavailableError(TwplateError, ImportError):
    """The runtime a backend needs is not installed. The message names the extra to install."""
