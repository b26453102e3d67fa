"""archivist: provenance-first BagIt packages for ML film restoration."""

__version__ = "0.1.0"

from archivist.errors import ArchivistError  # noqa: E402
from archivist.package import Package  # noqa: E402

__all__ = ["__version__", "ArchivistError", "Package"]
