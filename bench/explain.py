"""What explanations cost: analysis with and without ``explain``, in the same run.

    .venv/bin/python bench/explain.py [--rounds 5]

The real held-out articles (read once, not timed) are analysed in batches of 64, as a
`tag` worker does, alternately without and with explanations, ``--rounds`` times; the
median CPU time per article of each is printed. Without ``explain`` the engine does no
explanation work at all, so that row is the figure `bench/speed.py` and
`bench/throughput.py` measure.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from medbrief.engine import Analyzer, Options
from medbrief.locations import model_to_read
from medbrief.model import load_model

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    analyzer = Analyzer(load_model(model_to_read()))
    articles = [analyzer.read_path(p)
                for p in sorted((ROOT / "seeds" / "heldout-real").glob("*.txt"))]
    batches = [articles[i : i + 64] for i in range(0, len(articles), 64)]
    times: dict[bool, list[float]] = {False: [], True: []}
    analyzer.analyze_many(batches[0], Options(explain=True))  # warm-up
    for _ in range(args.rounds):
        for explain in (False, True):
            began = time.process_time()
            for batch in batches:
                analyzer.analyze_many(batch, Options(explain=explain))
            times[explain].append((time.process_time() - began) / len(articles) * 1000)
    plain, explained = statistics.median(times[False]), statistics.median(times[True])
    print(f"{len(articles)} real articles, {args.rounds} rounds, CPU ms per article (median): "
          f"without explain {plain:.2f}, with explain {explained:.2f} "
          f"({explained / plain:.1f}x)")


if __name__ == "__main__":
    main()
