"""Sections of benchmarks/RESULTS.md written by different scripts, each replacing its own."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(path: Path, name: str, lines: list[str]) -> None:
    """Put ``lines`` at the end of ``path`` under the marker ``name``, replacing what an earlier
    run of the same script wrote there and keeping every other section."""
    marker = f"<!-- {name} section: written by benchmarks/{name}.py -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    head, _, rest = text.partition(marker)
    # keep any later sections (from other scripts) that followed ours
    tail = rest[rest.find("<!-- ") :] if "<!-- " in rest else ""
    body = head.rstrip() + "\n\n" + tail.strip()
    path.write_text(
        body.strip() + "\n\n" + marker + "\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
