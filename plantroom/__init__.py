"""Plantroom: the shared contract between the edge, gateway, cloud and simulator processes."""

__version__ = "0.1.0"
