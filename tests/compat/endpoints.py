"""Summarise recorded client traffic (see recording_proxy.py) as a Markdown table.

Usage: python endpoints.py mlflow3.tsv [mlflow2.tsv ...]

One row per (method, path template): which query parameters and top-level
JSON body fields were sent, how many calls each recording made, and which HTTP statuses came back. Variable
path parts are templated: artifact paths, logged-model ids, run ids.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ARTIFACT_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


def template(path: str) -> str:
    if path.startswith(ARTIFACT_PREFIX + "/"):
        return ARTIFACT_PREFIX + "/{artifact_path}"
    parts = []
    for seg in path.split("/"):
        if re.fullmatch(r"m-[0-9a-f]{32}", seg):
            seg = "{model_id}"
        elif re.fullmatch(r"[0-9a-f]{32}", seg):
            seg = "{run_id}"
        parts.append(seg)
    return "/".join(parts)


def main(files: list[str]) -> None:
    labels = [Path(f).stem for f in files]
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    queries: dict[tuple[str, str], set[str]] = defaultdict(set)
    statuses: dict[tuple[str, str], set[str]] = defaultdict(set)
    fields: dict[tuple[str, str], set[str]] = defaultdict(set)
    for label, f in zip(labels, files):
        for line in Path(f).read_text().splitlines():
            if not line.strip():
                continue
            method, target, status, *rest = line.split("\t")
            parts = urlsplit(target)
            key = (template(parts.path), method)
            counts[key][label] += 1
            queries[key].update(k for k, _ in parse_qsl(parts.query, keep_blank_values=True))
            statuses[key].add(status)
            if rest and rest[0]:
                fields[key].update(rest[0].split(","))

    print(
        "| Method | Path | Query parameters | JSON body fields | "
        + " | ".join(labels)
        + " | Statuses seen |"
    )
    print("|---|---|---|---|" + "---|" * len(labels) + "---|")
    for key in sorted(counts):
        path, method = key
        q = ", ".join(sorted(queries[key])) or "-"
        c = " | ".join(str(counts[key].get(label, 0)) for label in labels)
        b = ", ".join(sorted(fields[key])) or "-"
        print(f"| {method} | `{path}` | {q} | {b} | {c} | {', '.join(sorted(statuses[key]))} |")


if __name__ == "__main__":
    main(sys.argv[1:])
