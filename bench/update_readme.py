"""Copy the measured sections (written by the bench scripts) into bench/README.md."""

from __future__ import annotations

import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SECTIONS = {
    "pipeline": BENCH / "pipeline_results.md",
    "scale": BENCH / "scale_README_section.md",
    "quality": BENCH / "quality_README_section.md",
    "selection": BENCH / "selection_README_section.md",
    "search": BENCH / "search_README_section.md",
}


def update_readme(readme: Path = BENCH / "README.md") -> None:
    text = readme.read_text()
    for name, source in SECTIONS.items():
        if not source.exists():
            continue
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{readme} has no markers for section {name!r}")
        body = source.read_text().rstrip() + "\n"
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    readme.write_text(text)


if __name__ == "__main__":
    update_readme()
