"""REFI-QDA exchange: the evaluation out to other QDA tools as ``.qdpx``/``.qdc``, and back in.

One module per job: :mod:`.positions` (how a tool counted positions, detected per source),
:mod:`.export` (the project and code book written), :mod:`.read` (a tool's project or code book
read as records) and :mod:`.to_evaluation` (those records turned into an evaluation folder).
The names the command line and the tests use are re-exported here.
"""

from pipeline.exchange.refi.export import (
    CODEBOOK_NS,
    PROJECT_NS,
    codebook_xml,
    export_qdpx,
    exported_codings,
    project_xml,
    write_qdc,
    write_qdpx,
)
from pipeline.exchange.refi.positions import (
    CONVENTIONS,
    STANDARD,
    Convention,
    Detection,
    boundary_share,
    detect_convention,
    to_code_points,
)
from pipeline.exchange.refi.read import QdaCode, QdaCoding, QdaSource, QdaUser, QdpxProject, read_qdc, read_qdpx
from pipeline.exchange.refi.to_evaluation import ImportReport, import_qdc, import_qdpx

__all__ = [
    "CODEBOOK_NS", "CONVENTIONS", "PROJECT_NS", "STANDARD", "Convention", "Detection", "ImportReport", "QdaCode",
    "QdaCoding", "QdaSource", "QdaUser", "QdpxProject", "boundary_share", "codebook_xml", "detect_convention",
    "export_qdpx", "exported_codings", "import_qdc", "import_qdpx", "project_xml", "read_qdc", "read_qdpx",
    "to_code_points", "write_qdc", "write_qdpx",
]
