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
from service.config import log_file

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_UNMEASURABLE = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Measure wrinkles and pigmentation per facial region in face photos.",
)
log = logging.getLogger("wrinkletrack")


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
) -> None:
    """Measure one photo: per-region wrinkle, pigmentation, redness and texture metrics."""
    from analysis import analyze as run_analysis

    _require_file(image)
    try:
        result = run_analysis(image, mm_per_px=mm_per_px)
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
