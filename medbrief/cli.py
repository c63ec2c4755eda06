"""The `medbrief` command line: tag, summarize, train, evaluate, serve."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import click

from medbrief import locations
from medbrief.batch import Output, csv_header, record_lines, tag_paths
from medbrief.bounded import TooLarge, read_stream
from medbrief.engine import Analyzer, Options
from medbrief.errors import MedbriefError
from medbrief.exports import WHOLE_FORMATS, WholeFormat, write_whole
from medbrief.ingest import SUFFIX_FORMATS
from medbrief.locations import model_to_read
from medbrief.model import load_model
from medbrief.record import AnalysisRecord, ErrorRecord
from medbrief.resume import OutputFormat, prepare_resume
from medbrief.sources import find_sources
from medbrief.summary import DEFAULT_SENTENCES, DEFAULT_WORDS
from medbrief.training.options import FEATURE_SETS

SHOWN_ERRORS = 20  # unreadable articles named on standard error; the rest only counted

model_option = click.option(
    "--model", "model_dir", type=click.Path(path_type=Path),
    help="Model folder to use (default: the model folder, MEDBRIEF_MODEL_DIR or models/ or "
    "the user data folder, else the default model built into medbrief).",
)
sentences_option = click.option(
    "--sentences", "-n", type=click.IntRange(0, 50), default=DEFAULT_SENTENCES,
    show_default=True, help="Sentences in each summary.",
)
explain_option = click.option(
    "--explain", is_flag=True,
    help="Say why: each paragraph's label split into its words' and cues' shares, and what "
    "chose each summary sentence.",
)
words_option = click.option(
    "--words", type=click.IntRange(1, 2000), default=DEFAULT_WORDS, show_default=True,
    help="Word budget of each summary (the first sentence is always kept).",
)


class MedbriefGroup(click.Group):
    """A command group that turns medbrief's own errors into one clean message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MedbriefError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=MedbriefGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to standard error.")
@click.version_option(package_name="medbrief")
def main(verbose: bool) -> None:
    """medbrief: topic labels and boilerplate-free summaries for health news.

    Example:

        medbrief summarize seeds/002_da1089fed68b70b6.txt
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command()
@click.argument("sources", metavar="PATH|URL...", nargs=-1, required=True)
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Output file (default stdout).")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", *WHOLE_FORMATS]), default="jsonl",
    show_default=True,
    help="JSON Lines (a record per article), CSV (a row per paragraph), labelstudio (tasks "
    "with the model's labels as pre-annotations, least confident first) or parquet (a row "
    "per paragraph; needs medbrief[parquet]). The last two are written when all is done.",
)
@click.option("--jobs", "-j", type=click.IntRange(1, 256), help="Processes (default: all cores).")
@click.option("--resume", is_flag=True, help="Skip articles already in --out and append.")
@click.option(
    "--scheduler", metavar="ADDRESS",
    help="Run on a Dask cluster: a scheduler address, or 'local' to start one of --jobs "
    "workers (needs medbrief[dask]).",
)
@sentences_option
@words_option
@explain_option
@model_option
def tag(
    sources: tuple[str, ...], out: Path | None, fmt: OutputFormat | WholeFormat,
    jobs: int | None,
    resume: bool, sentences: int, words: int, model_dir: Path | None,
    scheduler: str | None = None, explain: bool = False,
) -> None:
    """Tag articles: files, folders (searched recursively), - for stdin, or URLs of any
    filesystem fsspec knows (s3://bucket/folder/, needs medbrief[dask] and e.g. s3fs).

    Writes one analysis record per article, in sorted path order. A file that cannot
    be read gives an error record and a non-zero exit status; the run goes on.

    Example:

        medbrief tag articles/ --out tagged.jsonl

        medbrief tag articles/ --out tagged.jsonl --scheduler tcp://scheduler:8786
    """
    out = None if out is not None and str(out) == "-" else out  # -o - is standard output
    if resume and out is None:
        raise click.UsageError("--resume needs --out")
    whole = fmt in WHOLE_FORMATS
    if whole and resume:
        raise click.UsageError(f"--resume works with jsonl and csv, not {fmt}")
    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out FILE")
    stream: OutputFormat = "jsonl" if fmt in WHOLE_FORMATS else fmt  # type: ignore[assignment]
    kept: list[str] = []  # whole formats: every record, written at the end
    options = Options(sentences, words, explain)
    model_dir = model_to_read(model_dir)
    stdin = "-" in sources
    found = find_sources(s for s in sources if s != "-")
    skip = prepare_resume(out, stream) if resume and out is not None else set()
    append = resume and out is not None and out.exists() and out.stat().st_size > 0
    # The folders are walked as the work goes; on a terminal, once before, to size the bar.
    length = sum(s not in skip for s in found) if sys.stderr.isatty() else 0
    handle: IO[str] = (
        out.open("a" if append else "w", encoding="utf-8") if out and not whole else sys.stdout
    )
    failures = tagged = skipped = 0

    def todo() -> Iterator[str]:
        nonlocal skipped
        for source in found:
            if source in skip:
                skipped += 1
            else:
                yield source

    try:
        if stream == "csv" and not append:
            handle.write(csv_header())
        for path in found.missing:
            failures += 1
            error = ErrorRecord(id=Path(path).stem, source=path, error=f"{path}: no such file")
            if not whole:
                handle.writelines(record_lines(error, stream))
            click.echo(error.error, err=True)
        if stdin:
            analyzer = Analyzer(load_model(model_dir))
            article = analyzer.read(read_stdin(analyzer.max_bytes), id="stdin")
            lines = record_lines(analyzer.analyze_many([article], options)[0], stream)
            kept.extend(lines) if whole else handle.writelines(lines)
        progress_file: Any = sys.stderr if length > 1 else _Null()
        with click.progressbar(
            length=length, label="tagging", file=progress_file, show_eta=False,
            show_pos=True,
        ) as bar:
            outputs: Iterable[Output]
            if scheduler is None:
                outputs = tag_paths(todo(), model_dir, options, stream, jobs)
            else:
                from medbrief.distributed import tag_outputs

                outputs = tag_outputs(todo(), model_dir, options, stream, scheduler, workers=jobs)
            for output in outputs:
                if not whole:
                    handle.write(output.text)
                    handle.flush()
                elif output.error is None:
                    kept.append(output.text)
                tagged += 1
                bar.update(1)
                if output.error is not None:
                    failures += 1
                    if failures <= SHOWN_ERRORS:
                        click.echo(f"\n{output.error}" if length > 1 else output.error, err=True)
        if whole:
            write_whole(kept, fmt, out, handle)  # type: ignore[arg-type]
    except OSError as exc:  # the output cannot take more: disk full, closed pipe
        where = out or "standard output"
        raise click.ClickException(
            f"cannot write to {where} ({exc.strerror or exc}); {tagged} articles were written"
            + (", run again with --resume to go on" if out else "")
        ) from exc
    finally:
        if out and not whole:
            with suppress(OSError):
                handle.close()
    total = tagged + len(found.missing) + int(stdin)
    done = f", skipped {skipped} already done" if resume else ""
    click.echo(f"tagged {total - failures} of {total} articles{done}", err=True)
    if total == 0 and not skipped:
        raise click.ClickException(
            f"no articles found in {', '.join(sources)} (medbrief reads "
            f"{', '.join(SUFFIX_FORMATS)} files)"
        )
    if failures:
        more = f" ({failures - SHOWN_ERRORS} not shown above)" if failures > SHOWN_ERRORS else ""
        click.echo(f"{failures} article(s) could not be read{more}; each has an error record",
                   err=True)
        sys.exit(1)


def read_stdin(limit: int) -> bytes:
    """An article from standard input, refused past ``limit`` bytes."""
    try:
        return read_stream(sys.stdin.buffer, limit, "standard input")
    except TooLarge as exc:
        raise click.ClickException(str(exc)) from exc


class _Null:
    """A file that swallows the progress bar when standard error is not a terminal."""

    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


@main.command()
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the full analysis record as JSON.")
@sentences_option
@words_option
@explain_option
@model_option
def summarize(
    file: Path, as_json: bool, sentences: int, words: int, model_dir: Path | None,
    explain: bool = False,
) -> None:
    """Summarise one article (a file, or - for stdin) with its topic breakdown.

    Example:

        medbrief summarize article.html --sentences 3
    """
    analyzer = Analyzer(load_model(model_to_read(model_dir)))
    options = Options(sentences, words, explain)
    if str(file) == "-":
        article = analyzer.read(read_stdin(analyzer.max_bytes), id="stdin")
    elif file.suffix and file.suffix.lower() not in SUFFIX_FORMATS:
        raise click.ClickException(
            f"{file}: not an article (medbrief reads {', '.join(SUFFIX_FORMATS)} files; "
            "labelled data goes to `medbrief train --data`)"
        )
    else:
        article = analyzer.read_path(file)
    record = analyzer.analyze_many([article], options)[0]
    click.echo(record.model_dump_json(indent=2) if as_json else render_summary(record))


def render_summary(record: AnalysisRecord) -> str:
    """A readable summary: the sentences, the topic bar, and the key sentence per topic."""
    lines = [f"# {record.source or record.id or 'article'}", ""]
    for s in record.summary:
        lines.append(f"- {s.text}  [{s.label}]")
        if s.cues:
            lines.append("    chosen for: " + ", ".join(f"{k} {v:+.2f}" for k, v in s.cues.items()))
    if not record.summary:
        lines.append("(no content to summarise)")
    lines += ["", "Topics:"]
    for label, share in record.topics.items():
        lines.append(f"  {label:<14} {'█' * round(share * 30):<30} {share:5.0%}")
    left_out = sum(p.label == "boilerplate" for p in record.paragraphs)
    lines += ["", f"{len(record.paragraphs)} paragraphs, {left_out} boilerplate left out."]
    unsure = [p for p in record.paragraphs if p.unsure]
    if unsure:
        lines.append(f"{len(unsure)} unsure (confidence below the model's threshold): "
                     + ", ".join(f"#{p.index} {p.label} {p.confidence:.2f}" for p in unsure))
    explained = [p for p in record.paragraphs if p.explanation]
    if explained:
        lines += ["", "Why each paragraph got its label (its largest shares of the logit):"]
        for p in explained:
            assert p.explanation is not None
            shares = p.explanation[p.label].features[:4]
            lines.append(f"  #{p.index} {p.label}: "
                         + ", ".join(f"{c.feature} {c.value:+.2f}" for c in shares))
    if record.key_sentences:
        lines += ["", "Key sentence per topic:"]
        lines += [f"  {label}: {s.text}" for label, s in record.key_sentences.items()]
    return "\n".join(lines)


@main.command()
@click.option(
    "--data", type=click.Path(path_type=Path),
    help="Folder of labelled articles (*.labels.jsonl beside the raw files), subfolders "
    "included but the held-out ones (heldout*). Default: MEDBRIEF_DATA_DIR, or seeds/ here, "
    "or the articles built into medbrief.",
)
@click.option(
    "--out", type=click.Path(path_type=Path),
    help="Model folder to write (default: MEDBRIEF_MODEL_DIR, or models/ here, or the user "
    "data folder).",
)
@click.option("--heldout", type=click.Path(path_type=Path), multiple=True,
              help="Held-out folder scored into the card; repeatable (default: the heldout* "
              "subfolders of DATA).")
@click.option("--features", type=click.Choice(FEATURE_SETS), default="light", show_default=True,
              help="Feature set of the classifier (encoder, both and cascade need the encoder "
              "extra; see docs/features.md).")
@click.option("--threshold", type=float,
              help="cascade only: relabel paragraphs whose top light probability is below "
              "this (default: chosen by cross-validation on DATA).")
@click.option("--epochs", type=float, default=2.0, show_default=True,
              help="tuned only: passes over the training paragraphs when fine-tuning the "
              "encoder (about 5 minutes each for 10,000 paragraphs on two cores).")
@click.option("--no-cv", is_flag=True, help="Skip the cross-validation (grouped by outlet).")
def train(
    data: Path | None, out: Path | None, heldout: tuple[Path, ...], features: str,
    threshold: float | None, epochs: float, no_cv: bool,
) -> None:
    """Train the paragraph classifier and write it with its model card.

    Held-out folders are only scored, never trained on. Cross-validation leaves out one
    outlet at a time (an article written here counts as its own outlet).

    Example:

        medbrief train --data seeds --out models
    """
    from medbrief.training.data import heldout_dirs
    from medbrief.training.evaluate import format_table
    from medbrief.training.options import TrainingOptions
    from medbrief.training.train import train as run

    try:
        options = TrainingOptions(features=features, threshold=threshold, epochs=epochs)
    except ValueError as exc:
        hint = "--epochs" if "epochs" in str(exc) else "--threshold"
        raise click.BadParameter(str(exc), param_hint=hint) from exc
    data = data or locations.data_dir()
    out = out or locations.model_dir()
    if features == "tuned":
        # Minutes of work: its progress is shown without --verbose.
        logging.getLogger("medbrief.training.finetune").setLevel(logging.INFO)
        click.echo("fine-tuning the sentence encoder first (about 5 minutes an epoch for "
                   "10,000 paragraphs on two cores, unless this data was fine-tuned before)",
                   err=True)
    try:
        model = run(data, out, heldout or heldout_dirs(data), options,
                    cross_validation=not no_cv)
    except ValueError as exc:  # the data cannot train a model (too few words, one class...)
        raise click.ClickException(f"{data}: cannot train on these articles ({exc})") from exc
    card = model.card
    click.echo(f"model {card.version}: {card.data.articles} articles, "
               f"{card.data.paragraphs} paragraphs, labels {', '.join(card.labels)}")
    if card.cascade:
        share = card.cascade.encoder_share
        click.echo(f"cascade threshold {card.cascade.threshold:g}"
                   + (f": {share:.1%} of paragraphs to the encoder in CV" if share is not None
                      else ""))
    if card.cross_validation:
        real = card.cross_validation_real
        click.echo(f"cross-validation by outlet: macro-F1 {card.cross_validation.macro_f1:.3f}"
                   + (f" ({real.macro_f1:.3f} on the real articles)" if real else ""))
    for name, metrics in card.heldout_sets.items():
        click.echo(f"{name}:\n" + format_table(metrics))
    click.echo(f"written to {out} in {card.train_seconds:.1f} s")


@main.command()
@click.option("--data", type=click.Path(path_type=Path), multiple=True,
              help="Folder of labelled held-out articles; repeatable (default: the heldout* "
              "subfolders of the data folder: written articles, and real ones from unseen "
              "outlets).")
@click.option("--report", type=click.Path(path_type=Path), metavar="DIR",
              help="Also write an HTML report there (index.html and its figures): tables, "
              "confusion matrices, reliability diagrams, the worst-classified paragraphs with "
              "why (needs medbrief[report]).")
@model_option
def evaluate(data: tuple[Path, ...], report: Path | None, model_dir: Path | None) -> None:
    """Score the model on the held-out articles: a per-label table, macro-F1, calibration
    error, and how the summaries recall the reference sentences, for each held-out folder.

    Example:

        medbrief evaluate --report report/
    """
    from medbrief.training.data import heldout_dirs
    from medbrief.training.evaluate import evaluate_dir, format_table

    model = load_model(model_to_read(model_dir))
    folders = data or tuple(heldout_dirs(locations.data_dir()))
    if not folders:
        raise click.UsageError(f"no held-out folders in {locations.data_dir()}; give --data")
    for folder in folders:
        metrics = evaluate_dir(model, folder)
        click.echo(f"model {model.version} on {folder}\n" + format_table(metrics) + "\n")
    if report is not None:
        from medbrief.training.report import write_report

        click.echo(f"report: {write_report(model, list(folders), report)}")


@main.command()
@click.option("--host", default=None, help="Interface to bind (default from settings).")
@click.option("--port", type=int, default=None, help="Port (default from settings).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@model_option
def serve(
    host: str | None, port: int | None, workers: int | None, model_dir: Path | None
) -> None:
    """Run the HTTP service (trains a model from seeds/ first if none exists).

    Example:

        medbrief serve --port 8000
    """
    from medbrief.service.run import run

    run(host=host, port=port, workers=workers, model_dir=model_dir)

