"""Evidence pipeline: evaluation transcripts in, coded evidence and triangulation out."""

__version__ = "0.1.0"
