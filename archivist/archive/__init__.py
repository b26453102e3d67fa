"""What an archive ingests: metadata in the forms archives read, a transfer file, an OCFL deposit.

``describe`` writes ``data/metadata/`` from the records; ``transfer``
serialises the bag reproducibly; ``deposit`` adds the bag as a version of
an OCFL object. docs/archives.md says what each field means.
"""
