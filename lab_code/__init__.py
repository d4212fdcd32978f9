"""The code that labs 1 and 2 teach, exported from their sources for lab 3 and the benchmarks.

Every module here is made by `python scripts/assignments.py` from the cells of a lab source that start
with `#| export`; the tests fail when a module is out of date. Edit the lab, never these files.
"""
