"""Course helpers for Generative AI Foundations: plumbing only, no models."""

__version__ = "0.1.0"
