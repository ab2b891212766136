"""Copy the dashboard's and /docs' browser assets from their pinned npm packages into the
service's package (engine/api/static/vendor/), so a `pip install`ed service serves them with no
node_modules and no network.

python scripts/vendor_static.py          # after `npm install --save-exact` of a new version
python scripts/vendor_static.py --check  # exit 1 if a vendored file differs from node_modules

The copies are committed (uPlot: MIT; swagger-ui-dist: Apache-2.0; their licence files are
copied beside them); package.json / package-lock.json pin the versions they come from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "engine" / "api" / "static" / "vendor"
FILES = {  # npm package: (file in the package, name in vendor/)
    "uplot": (("dist/uPlot.iife.min.js", "uPlot.iife.min.js"), ("dist/uPlot.min.css", "uPlot.min.css"),
              ("LICENSE", "uPlot.LICENSE")),
    "swagger-ui-dist": (("swagger-ui-bundle.js", "swagger-ui-bundle.js"),
                        ("swagger-ui.css", "swagger-ui.css"),
                        ("favicon-32x32.png", "favicon-32x32.png"),
                        ("LICENSE", "swagger-ui.LICENSE"), ("NOTICE", "swagger-ui.NOTICE")),
}  # fmt: skip


def versions() -> dict[str, str]:
    """The versions package.json pins (the vendored files must come from these)."""
    deps: dict[str, str] = json.loads((ROOT / "package.json").read_text())["dependencies"]
    return {name: deps[name] for name in FILES}


def problems() -> list[str]:
    found = []
    for package, version in versions().items():
        source = ROOT / "node_modules" / package
        if not source.is_dir():
            found.append(f"node_modules/{package} is missing: run `make setup` (npm ci)")
            continue
        installed = json.loads((source / "package.json").read_text())["version"]
        if installed != version:
            found.append(f"node_modules/{package} is {installed}, package.json pins {version}: "
                         "run npm ci")  # fmt: skip
        for inside, name in FILES[package]:
            vendored = TARGET / name
            if not vendored.is_file() or vendored.read_bytes() != (source / inside).read_bytes():
                found.append(f"{vendored.relative_to(ROOT)} differs from {package}@{version}'s "
                             f"{inside}: run python scripts/vendor_static.py")  # fmt: skip
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for package in FILES:
        for inside, name in FILES[package]:
            (TARGET / name).write_bytes((ROOT / "node_modules" / package / inside).read_bytes())
    print(
        f"vendored {', '.join(f'{p}@{v}' for p, v in versions().items())} into "
        f"{TARGET.relative_to(ROOT)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
