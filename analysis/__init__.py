"""wrinkletrack's image pipeline: ``analyze`` one photo, ``compare`` a pair, ``track`` a series.

Image math lives in this package only; ``service`` adapts it to the CLI and HTTP.
"""

from analysis.compare import Comparison, Track, compare, track
from analysis.errors import AnalysisError
from analysis.pipeline import Analysis, analyze

__all__ = ["Analysis", "AnalysisError", "Comparison", "Track", "analyze", "compare", "track"]
