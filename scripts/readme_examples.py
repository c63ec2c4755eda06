"""Print the Python examples of the README's "Python" section, as one script.

    python scripts/readme_examples.py [README.md] | python

The tests run it (tests/test_api.py), and so does scripts/check_wheel.sh against an
installed wheel, from an empty folder.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def examples(readme: Path = README) -> str:
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL))


if __name__ == "__main__":
    print(examples(Path(sys.argv[1]) if len(sys.argv) > 1 else README))
