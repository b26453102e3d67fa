"""archivist: provenance-first BagIt packages for ML film restoration."""

__version__ = "0.1.0"

__all__ = ["__version__", "ArchivistError", "Package"]


def __getattr__(name):
    # Lazy, so that commands which never touch pixels (verify, log) do not pay
    # for importing OpenImageIO and numpy.
    if name == "Package":
        from archivist.package import Package

        return Package
    if name == "ArchivistError":
        from archivist.errors import ArchivistError

        return ArchivistError
    raise AttributeError(name)
