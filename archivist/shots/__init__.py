"""Shots and scenes: ranges of a source element's frames, imported from a shot list or given by hand.

* ``timeline``: reading an EDL (CMX 3600), an OpenTimelineIO file or a CSV, and the timecode mapping;
* ``store``: shot and scene records (``archivist/shot/1``, ``archivist/scene/1``);
* ``scope``: ``--shot`` / ``--scene`` for the commands, the rule of thumb for ``--auto``, and
  the plan of ``infer --all-shots``.
"""
