"""Shared by the benchmark scripts: replace one `## ...` section of benchmarks/README.md, keeping the others."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import date
from pathlib import Path

# Text below this line, up to the section's end, is written by hand: a script's rewrite of the section keeps it.
KEEP = "<!-- written by hand: the benchmark scripts keep what follows -->"


def replace_section(path: Path, heading: str, section: str) -> None:
    """Put section (which starts with heading) in place of the README's section of that heading, or append it.

    A hand-written tail of the old section, from the KEEP line on, follows the new section."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if heading in text:
        head, rest = text.split(heading, 1)
        nxt = rest.find("\n## ")
        old = rest if nxt < 0 else rest[: nxt + 1]
        if KEEP in old:
            section = section.rstrip("\n") + "\n\n" + old[old.index(KEEP) :].rstrip("\n") + "\n"
        text = head + section + ("\n" + rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def publish(path: Path, heading: str, section: str, write: bool) -> None:
    """Print a benchmark's section and, when write is set, record it in the README at path."""
    print("\n" + section)
    if write:
        replace_section(path, heading, section)
        print(f"updated {path.name}")


def chosen_variants(parser: argparse.ArgumentParser, only: list[str] | None, variants: dict) -> list[str]:
    """The variants a sweep's --only names (all of them without it); a parser error for an unknown name."""
    names = only or list(variants)
    unknown = [n for n in names if n not in variants]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(variants)}")
    return names


def provenance(command: str) -> list[str]:
    """The lines that close a sweep's section: the command that wrote it, and the machine it ran on."""
    import torch  # the sweeps' dependency, not this module's

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"- **command:** `{command}` on {date.today().isoformat()}",
        f"- **machine:** {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"load average {load:.1f} at the end, {platform.machine()}, torch {torch.__version__}",
        "",
    ]


def table_section(heading: str, intro: str, columns: list[str], rows: list[str], command: str) -> str:
    """A sweep's README section: heading, intro, a table (first column left-aligned, the rest right) and provenance."""
    header = "| " + " | ".join(columns) + " |"
    return "\n".join([heading, "", intro, "", header, "|---|" + "---:|" * (len(columns) - 1), *rows, "", *provenance(command)])
