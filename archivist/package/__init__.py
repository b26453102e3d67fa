"""The package model: layout, safe paths, bag files, hashing, records, events, locking, transactions.

``Package`` (in ``model``) is the object every stage reads and writes through.
"""

from archivist.package.model import Package

__all__ = ["Package"]
