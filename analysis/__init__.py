"""wrinkletrack's image pipeline: ``analyze`` one photo (``compare`` and ``track`` follow).

Image math lives in this package only; ``service`` adapts it to the CLI and HTTP.
"""

from analysis.errors import AnalysisError
from analysis.pipeline import Analysis, analyze

__all__ = ["Analysis", "AnalysisError", "analyze"]
