"""``wrinkletrack`` command line.

Exit codes (DESIGN.md): 0 done; 1 internal failure or an output that cannot be written (one line
on stderr, details in the log file); 2 usage error; 3 a photo that cannot be measured (the error
JSON goes to stdout and to the ``--json`` file). No command ever ends in a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from analysis.errors import AnalysisError
from service.commands import register
from service.config import log_file

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_UNMEASURABLE = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Measure wrinkles and pigmentation per facial region in face photos.",
)
log = logging.getLogger("wrinkletrack")
register(app)  # serve, keys create


@app.callback()
def _root() -> None:
    """Measure wrinkles and pigmentation per facial region in face photos."""


class OutputError(Exception):
    """An output file could not be written (exit 1)."""


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"wrinkletrack: {message}", err=True)
    raise typer.Exit(code)


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _emit_json(payload: dict[str, Any], target: str | None) -> None:
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    elif target:
        _write_bytes(Path(target), text.encode())


def _write_png(path: Path, rgb: Any) -> None:
    import cv2
    import numpy as np

    img = np.asarray(rgb)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise OutputError(f"cannot encode {path}")
    _write_bytes(path, buf.tobytes())


def _require_file(path: Path) -> None:
    if not path.exists():
        _fail(f"no such file: {path}", EXIT_USAGE)
    if path.is_dir():
        _fail(f"{path} is a folder, not a photo", EXIT_USAGE)


def _print_summary(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    console = Console()
    q = result["quality"]
    console.print(
        f"[bold]{result['image']['width']}x{result['image']['height']}[/] photo, "
        f"{1 / result['face']['mm_per_px']:.1f} px/mm, quality "
        + ("ok" if q["ok"] else ", ".join(i["code"] for i in q["issues"]))
    )
    table = Table("area cm²", "severity", "lines mm", "depth %", "spots", "melanin", "redness")
    table.columns.insert(0, Column("region", no_wrap=True, min_width=16))
    for name, m in result["regions"].items():
        table.add_row(
            name,
            f"{m['region.area_cm2']:.1f}",
            f"{m['wrinkles.severity']:.1f}",
            f"{m['wrinkles.length_mm']:.0f}",
            f"{m['wrinkles.mean_depth']:.1f}",
            f"{m['pigmentation.spot_count']:.0f}",
            f"{m['pigmentation.melanin_mean']:.1f}",
            f"{m['redness.mean']:.1f}",
        )
    console.print(table)


ViewOption = Annotated[
    str,
    typer.Option(
        "--view",
        help="frontal, or left/right: a three-quarter view of the subject's own side, "
        "measured on that side's regions and the midline's.",
    ),
]


def _check_view(view: str) -> None:
    from analysis.regions import VIEWS

    if view not in VIEWS:
        _fail(f"--view must be one of {', '.join(VIEWS)}, not {view!r}", EXIT_USAGE)


@app.command()
def analyze(
    image: Annotated[Path, typer.Argument(help="Photo (JPEG, PNG, TIFF or WebP).")],
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the analysis JSON to PATH, or - for stdout.")
    ] = None,
    overlay: Annotated[Path | None, typer.Option(help="Write an overlay PNG.")] = None,
    mask: Annotated[Path | None, typer.Option(help="Write the binary wrinkle mask PNG.")] = None,
    mm_per_px: Annotated[
        float | None,
        typer.Option("--mm-per-px", min=0.001, max=5.0, help="Known pixel size at the face (mm)."),
    ] = None,
    view: ViewOption = "frontal",
) -> None:
    """Measure one photo: per-region wrinkle, pigmentation, redness and texture metrics."""
    from analysis import analyze as run_analysis

    _require_file(image)
    _check_view(view)
    try:
        result = run_analysis(image, mm_per_px=mm_per_px, view=view)
    except AnalysisError as err:
        _emit_json(err.to_dict(), json_out if json_out and json_out != "-" else None)
        sys.stdout.write(json.dumps(err.to_dict(), indent=2) + "\n")
        typer.echo(f"wrinkletrack: {err.code}: {err.message}", err=True)
        raise typer.Exit(EXIT_UNMEASURABLE) from None
    payload = result.to_dict()
    _emit_json(payload, json_out)
    if overlay is not None or mask is not None:
        from analysis.overlay import draw_overlay, wrinkle_mask

        if overlay is not None:
            _write_png(overlay, draw_overlay(result))
        if mask is not None:
            _write_png(mask, wrinkle_mask(result))
    if json_out != "-":
        _print_summary(payload)


TreatedSide = Annotated[
    str | None,
    typer.Option(
        "--treated-side",
        help="Split-face trial: the subject's treated side (left or right).",
    ),
]


def _check_side(side: str | None) -> None:
    if side not in (None, "left", "right"):
        _fail(f"--treated-side must be left or right, not {side!r}", EXIT_USAGE)


@app.command()
def compare(
    before: Annotated[Path, typer.Argument(help="Baseline photo.")],
    after: Annotated[Path, typer.Argument(help="Follow-up photo.")],
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="Write the comparison JSON to PATH, or - for stdout."),
    ] = None,
    overlay: Annotated[
        Path | None, typer.Option(help="Write before | after | change as PNG.")
    ] = None,
    treated_side: TreatedSide = None,
    view: ViewOption = "frontal",
) -> None:
    """Compare two photos of the same face: per-region change with its noise floor."""
    from analysis import compare as run_compare

    _require_file(before)
    _require_file(after)
    _check_side(treated_side)
    _check_view(view)
    try:
        result = run_compare(before, after, treated_side=treated_side, view=view)
    except AnalysisError as err:
        _emit_json(err.to_dict(), json_out if json_out and json_out != "-" else None)
        sys.stdout.write(json.dumps(err.to_dict(), indent=2) + "\n")
        where = f" ({err.photo} photo)" if err.photo else ""
        typer.echo(f"wrinkletrack: {err.code}{where}: {err.message}", err=True)
        raise typer.Exit(EXIT_UNMEASURABLE) from None
    payload = result.to_dict()
    _emit_json(payload, json_out)
    if overlay is not None:
        from analysis.overlay import draw_comparison

        _write_png(overlay, draw_comparison(result))
    if json_out != "-":
        _print_changes(payload)


@app.command()
def track(
    baseline: Annotated[Path, typer.Argument(help="Baseline photo.")],
    followups: Annotated[list[Path], typer.Argument(help="Follow-up photos, in visit order.")],
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the series JSON to PATH, or - for stdout.")
    ] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="One row per follow-up x region x metric.")
    ] = None,
    treated_side: TreatedSide = None,
    view: ViewOption = "frontal",
) -> None:
    """Compare each follow-up with the baseline; a failed follow-up does not stop the others."""
    from analysis import track as run_track

    for path in (baseline, *followups):
        _require_file(path)
    _check_side(treated_side)
    _check_view(view)
    try:
        result = run_track(baseline, followups, treated_side=treated_side, view=view)
    except AnalysisError as err:
        body = err.for_photo("baseline").to_dict()
        _emit_json(body, json_out if json_out and json_out != "-" else None)
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        typer.echo(f"wrinkletrack: baseline {err.code}: {err.message}", err=True)
        raise typer.Exit(EXIT_UNMEASURABLE) from None
    payload = result.to_dict()
    _emit_json(payload, json_out)
    if csv_out is not None:
        _write_bytes(csv_out, _track_csv(payload, followups).encode())
    if json_out != "-":
        for path, item in zip(followups, payload["followups"], strict=True):
            if "error" in item:
                typer.echo(f"{path.name}: {item['error']['code']}: {item['error']['message']}")
            else:
                typer.echo(f"{path.name}:")
                _print_changes(item)
    if all("error" in item for item in payload["followups"]):
        raise typer.Exit(EXIT_UNMEASURABLE)


def _track_csv(payload: dict[str, Any], followups: list[Path]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    header = ["followup", "file", "region", "metric", "before", "after", "delta", "delta_pct"]
    outcome = ["mdc", "significant", "direction", "improved", "error"]
    outcome += ["expression_changed", "focus_blur_mm"]  # the pair's, see README
    writer.writerow([*header, *outcome])
    for i, (path, item) in enumerate(zip(followups, payload["followups"], strict=True), 1):
        if "error" in item:
            writer.writerow([i, path.name, *[""] * 10, item["error"]["code"], "", ""])
            continue
        expression = item.get("expression")
        folded = set(expression["regions"]) if expression is not None else None
        focus = item["photometric"].get("focus_blur_mm", "")
        for region, metrics in item["regions"].items():
            for metric, c in metrics.items():
                writer.writerow(
                    [
                        i,
                        path.name,
                        region,
                        metric,
                        c["before"],
                        c["after"],
                        c["delta"],
                        c["delta_pct"],
                        c["mdc"],
                        c["significant"],
                        c["direction"],
                        c["improved"],
                        "",
                        "" if folded is None else region in folded,
                        focus,
                    ]
                )
    return buf.getvalue()


def _print_changes(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    console = Console()
    reg = result["registration"]
    console.print(f"registered: {reg['method']}, residual {reg['residual_mm']:.2f} mm")
    metrics = (
        "wrinkles.severity",
        "wrinkles.length_mm",
        "pigmentation.spot_area_pct",
        "redness.mean",
    )
    table = Table(Column("region", no_wrap=True, min_width=16), *(m.split(".")[1] for m in metrics))
    for name, changes in result["regions"].items():
        cells = []
        for m in metrics:
            c = changes[m]
            mark = {"decreased": "↓", "increased": "↑"}.get(c["direction"], "=")
            cells.append(f"{c['delta']:+.1f} (±{c['mdc']:.1f}) {mark}")
        table.add_row(name, *cells)
    console.print(table)
    for issue in result.get("quality", {}).get("issues", []):
        console.print(f"warning ({issue['code']}): {issue['message']}", markup=False)


def _setup_logging() -> None:
    try:
        path = log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs the app and turns every failure into an exit code."""
    _setup_logging()
    try:
        app(args=argv, prog_name="wrinkletrack")  # standalone: usage errors exit 2 themselves
    except SystemExit as done:
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except OutputError as exc:
        typer.echo(f"wrinkletrack: {exc}", err=True)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        typer.echo("wrinkletrack: interrupted", err=True)
        return EXIT_INTERNAL
    except Exception as exc:
        log.error("internal error\n%s", traceback.format_exc())
        typer.echo(
            f"wrinkletrack: internal error ({type(exc).__name__}); details in {log_file()}",
            err=True,
        )
        return EXIT_INTERNAL
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
