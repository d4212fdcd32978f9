"""Exercise checks: each prints a one-line verdict and returns a Verdict.

One module per notebook (for example `from utils.checks import gan_lab`); the shared
machinery lives in `utils.checks.core`.
"""
