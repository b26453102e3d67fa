"""Every error code an archivist command can stop with, and every exit status.

A command that cannot do what it was asked raises an ``ArchivistError``
(``archivist.errors``) whose code stays the same across releases, so scripts
can match on it; a retired code is kept out of use, never given a new
meaning. ``docs/errors.md`` is generated from this table
(``python -c "from archivist.error_codes import markdown; print(markdown(), end='')" > docs/errors.md``)
and a test keeps the two in step, checks that every code the source raises
is listed here and that every code listed here is raised somewhere.

Command codes are ``FAMILY-WORDS`` (``ADD-EXISTS``, ``PACKAGE-LOCKED``);
the rules ``archivist verify`` reports are ``FAMILY-NNN`` in families of
their own (``archivist.verify.rules``), and no command family shares a name
with a rule family, so a code says by its look which of the two it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from archivist.errors import EXIT_CHECK_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE


@dataclass(frozen=True)
class ErrorCode:
    """One command error code.

    Args:
        code: the stable code, ``FAMILY-WORDS``.
        meaning: what went wrong, in one line (the heading in ``docs/errors.md``).
        trigger: what causes it.
        fix: what to do about it.
        exit: the exit status of a command that stops with it.
    """

    code: str
    meaning: str
    trigger: str
    fix: str
    exit: int = EXIT_USAGE


@dataclass(frozen=True)
class ExitStatus:
    """One exit status of the ``archivist`` command."""

    status: int
    meaning: str


EXIT_STATUSES = (
    ExitStatus(EXIT_OK, "Success; for `verify`, the package is valid (warnings may have been reported)."),
    ExitStatus(EXIT_CHECK_FAILED, "A check failed: `verify` found the package invalid, `reproduce` found a frame "
               "that does not agree, `qc --fail-if-worse` found the model no better than the baseline, or the "
               "`demo` package did not verify."),
    ExitStatus(EXIT_USAGE, "Usage error or bad input (a corrupt frame, a missing option, a package that cannot be "
               "read or is locked by another writer): the command stopped with one of the error codes below. "
               "Nothing was changed."),
    ExitStatus(EXIT_INTERRUPTED, "Interrupted (Ctrl-C). The command says what state the package is in and the exact "
               "command that continues (`archivist infer PKG ...` resumes a run) or undoes (`archivist recover PKG`); "
               "an interrupted `train` stops with `TRAIN-INTERRUPTED`."),
)

# Renamed so that no command code shares a family with a verify rule (old -> new).
RENAMED = {
    "PKG-DUPLICATE": "PACKAGE-DUPLICATE",
    "PKG-EVENT-LOG": "PACKAGE-EVENT-LOG",
    "PKG-EXISTS": "PACKAGE-EXISTS",
    "PKG-INTERRUPTED": "PACKAGE-INTERRUPTED",
    "PKG-LOCKED": "PACKAGE-LOCKED",
    "PKG-MISSING-RECORD": "PACKAGE-MISSING-RECORD",
    "PKG-NOT-A-BAG": "PACKAGE-NOT-A-BAG",
    "PKG-NOT-ARCHIVIST": "PACKAGE-NOT-ARCHIVIST",
    "PKG-UNTRACKED": "PACKAGE-UNTRACKED",
    "REC-001": "RECORD-LABEL",
    "REC-002": "RECORD-SCHEMA",
    "REC-003": "RECORD-JSON",
    "C2PA-AGENT": "CREDENTIAL-AGENT",
    "C2PA-ANCHORS": "CREDENTIAL-ANCHORS",
    "C2PA-DEFINITION": "CREDENTIAL-DEFINITION",
    "C2PA-EXISTS": "CREDENTIAL-EXISTS",
    "C2PA-FORMAT": "CREDENTIAL-FORMAT",
    "C2PA-INGREDIENT": "CREDENTIAL-INGREDIENT",
    "C2PA-MISSING": "CREDENTIAL-MISSING",
    "C2PA-PACKAGE": "CREDENTIAL-PACKAGE",
    "C2PA-PARAMETERS": "CREDENTIAL-PARAMETERS",
    "C2PA-SHA256": "CREDENTIAL-SHA256",
}

_VERIFY_FIRST = "run `archivist verify PKG` to see every difference, and restore the file from a copy of the package"
_RECOVER = "run `archivist recover PKG`, which rolls the interrupted command back, then run the command again"

_CODES = [
    # -- the package itself -----------------------------------------------------------------
    ErrorCode("PACKAGE-NOT-A-BAG", "The directory is not a package",
              "The directory given has no `bagit.txt` (or it is not a regular file), or the path is not a directory; "
              "`verify` says the same of any directory that is not a bag.",
              "Check the path; `archivist init` makes a new package."),
    ErrorCode("PACKAGE-NOT-ARCHIVIST", "The bag lacks what archivist writes",
              "A command that changes the package found no `manifest-sha512.txt` or `manifest-sha256.txt`, or "
              "`seal` found a tag file missing: the bag was not made by archivist or is incomplete.",
              "Restore the missing manifests from a copy; archivist writes to packages it created."),
    ErrorCode("PACKAGE-EXISTS", "The file or package is already there",
              "`init` into a directory that is not empty, or a command that would add a payload file which is "
              "already in the package.",
              "Give `init` a new or empty directory; for other commands choose another id."),
    ErrorCode("PACKAGE-DUPLICATE", "One command writes the same file twice",
              "A command staged the same payload path twice in one transaction (an internal error).",
              "Report it; nothing was changed."),
    ErrorCode("PACKAGE-UNTRACKED", "A stray file is in the way",
              "A file exists where the command would write, but no manifest lists it (left by hand or by a tool "
              "other than archivist).",
              "Run `archivist verify PKG` (it reports the file as BAG-008), remove or move it, then run the "
              "command again."),
    ErrorCode("PACKAGE-LOCKED", "Another command is writing to the package",
              "Another archivist command holds the package's write lock (`.archivist/lock`); the message names it.",
              "Wait for it to finish; a second writer would corrupt the package."),
    ErrorCode("PACKAGE-INTERRUPTED", "An earlier command was interrupted",
              "A command was killed inside a commit and left its journal or staging directory in `.archivist/`.",
              _RECOVER + "; a killed `infer` resumes after that."),
    ErrorCode("PACKAGE-WORK-LINK", "A symbolic link in the working directory",
              "`.archivist/` or a file archivist keeps in it (the lock, the journal, staging) is a symbolic link "
              "or not what archivist put there; archivist never follows links there.",
              "Remove the link (nothing of the package is in it), then run the command again."),
    ErrorCode("PACKAGE-DAMAGED", "A tag file cannot be read",
              "A tag file the command reads (`bag-info.txt`, a manifest) is not UTF-8 text.",
              "Run `archivist verify PKG` and restore the file from a copy of the package."),
    ErrorCode("RECOVER-JOURNAL", "The journal of an interrupted command cannot be used",
              "`recover` found `.archivist/journal.json` not valid JSON, not an object with a state of `applying` or "
              "`committed`, with lists that are not lists of paths, or naming a path outside the package; nothing "
              "was changed.",
              "Restore the package from a copy; a journal archivist did not write could name any file."),
    ErrorCode("PACKAGE-MISSING-RECORD", "A record is missing",
              "A record the command needs (for example `data/records/package.json`) is not in the package.",
              _VERIFY_FIRST + "."),
    ErrorCode("PACKAGE-EVENT-LOG", "The event log is damaged",
              "`data/records/events.jsonl` has a line that is not a valid event, or its hash chain is broken, so "
              "no event can be appended to it.",
              "Run `archivist verify PKG` for the full list (REC-003, REC-004) and restore the log from a copy."),
    # -- the command line ---------------------------------------------------------------------------
    ErrorCode("CLI-USAGE", "The command line is not what the command takes",
              "An unknown command or option, a missing argument or option, or a value the option does not accept.",
              "Run the command with `--help` and correct the command line; nothing was changed."),
    ErrorCode("CLI-INPUT", "A file named on the command line cannot be used",
              "A file option names a file that cannot be opened as asked.",
              "Check the path and its permissions; nothing was changed."),
    ErrorCode("CLI-INTERRUPTED", "The command was interrupted (Ctrl-C)",
              "SIGINT (Ctrl-C) while the command ran. The message says what state the package is in: as it was "
              "before the command, valid with the work committed so far (`infer`), or stopped inside a commit.",
              "Run the command the message names: the same command again (an interrupted `infer` resumes its "
              "run), or `archivist recover PKG` first when a commit was cut short.", exit=EXIT_INTERRUPTED),
    # -- records ----------------------------------------------------------------------------------
    ErrorCode("RECORD-LABEL", "A record names no known schema",
              "A record's `schema` label is not `archivist/<type>/<version>`, or no schema of that name ships "
              "with this version of archivist.",
              "Restore the record from a copy; a record written by a newer archivist needs that version."),
    ErrorCode("RECORD-SCHEMA", "A record does not match its schema",
              "A record read from or about to be written to the package fails JSON Schema validation (the first "
              "five problems are listed).",
              "For a record read from the package, run `archivist verify PKG` (REC-002) and restore it; for one "
              "being written, correct the options that filled it."),
    ErrorCode("RECORD-JSON", "A record is not JSON",
              "A record read from the package is not valid UTF-8 JSON.",
              "Run `archivist verify PKG` (REC-001) and restore the record from a copy of the package."),
    # -- paths ------------------------------------------------------------------------------------
    ErrorCode("PATH-001", "An empty path or a `..` component",
              "A package path that is empty or has an empty, `.` or `..` component.",
              "Use a plain relative path inside the package."),
    ErrorCode("PATH-002", "A NUL, a backslash or a `/` in a name",
              "A package path with a NUL or a backslash, or a file name with a `/`.",
              "Rename the file; package paths use `/` between plain names."),
    ErrorCode("PATH-003", "An absolute path",
              "A package path that starts with `/` or a drive letter.",
              "Give the path relative to the package root."),
    ErrorCode("PATH-005", "An element id that cannot be a directory name",
              "An element id that is not 1-64 letters, digits, `.`, `_` or `-` starting with a letter or digit.",
              "Choose an id such as `print16` or `dvd_2004`."),
    ErrorCode("PATH-006", "A path through a symbolic link",
              "A package path passes through a symbolic link; archivist never follows links inside a package.",
              "Replace the link by the directory or file itself, or remove it."),
    ErrorCode("PATH-007", "A payload path outside `data/`",
              "A command tried to add a payload file outside `data/` (an internal error).",
              "Report it; nothing was changed."),
    ErrorCode("PATH-008", "Names collide after Unicode normalisation",
              "A new file's name differs from one already in the package only in Unicode normalisation "
              "(NFC and NFD forms of the same text).",
              "Rename the file so that it differs in more than normalisation."),
    ErrorCode("PATH-NOT-FILE", "Not a regular file",
              "A package file the command reads is a directory, FIFO, socket or device.",
              _VERIFY_FIRST + "."),
    ErrorCode("PATH-TOO-LARGE", "A package file is larger than its kind can be",
              "A record, tag file or manifest is larger than archivist will read for its kind, or grew while read.",
              _VERIFY_FIRST + "."),
    # -- init and add -----------------------------------------------------------------------------
    ErrorCode("INIT-RECOVERY", "Unknown recovery type",
              "`init --recovery` is not `chroma`, `spatial` or `combined`.",
              "Give one of the listed recovery types."),
    ErrorCode("INIT-FIELDS", "The package record cannot be made",
              "An empty `--title` or `--organization`, or options that make the package record fail its schema.",
              "Give non-empty values; the message names the field."),
    ErrorCode("ADD-ROLE", "Unknown element role",
              "`add --role` is not `source` or `reference`.",
              "Give `--role source` or `--role reference`."),
    ErrorCode("ADD-RIGHTS", "Unknown training use",
              "`add --training-use` is not one of the listed values.",
              "Give one of the listed values."),
    ErrorCode("ADD-DESCRIPTION", "No description",
              "`add --description` is empty.",
              "Describe the element in the field's own words (for example `16mm positive print`)."),
    ErrorCode("ADD-SOURCE-TYPE", "The IPTC digital source type cannot be told",
              "No `--source-type` was given and the description names no scan type archivist recognises.",
              "Give `--source-type negativeFilm`, `positiveFilm`, `print` or `digitalCapture`."),
    ErrorCode("ADD-EXISTS", "The element is already in the package",
              "An element with this id was added before; elements are never replaced.",
              "Choose another element id."),
    ErrorCode("ADD-AUTHORISED-BY", "An authorisation names no one",
              "`--training-use authorised` without `--authorised-by`.",
              "Say who authorised it, e.g. `--authorised-by 'Filmoteca, rights department'`."),
    ErrorCode("ADD-COLOUR-SPACE", "The colour space is not known",
              "`--colour-space` names a colour space that is not in the OpenColorIO config and is no alias "
              "archivist accepts.",
              "Give one of the names the message lists (e.g. `Rec.709`, `sRGB`, `ACEScct`)."),
    ErrorCode("ADD-DUPLICATE", "The frames are already in the package",
              "Frames given to `add` have the SHA-256 of frames of an element already in the package; nothing was "
              "added.",
              "To change the other element's description or rights use `archivist amend`; to add the frames "
              "again under a new id give `--allow-duplicate`."),
    ErrorCode("ADD-FIELDS", "The element record cannot be made",
              "The options make the element record fail its schema; the message says which field.",
              "Correct that option."),
    ErrorCode("ADD-MISSING", "No such file or directory",
              "A path given to `add` does not exist.",
              "Check the path."),
    ErrorCode("ADD-FORMAT", "Not a frame file",
              "A file given to `add` does not end in one of the frame extensions archivist reads.",
              "Give frame files (the message lists the extensions) or the directory that holds them."),
    ErrorCode("ADD-EMPTY", "No frames found",
              "The files and directories given to `add` hold no frame file.",
              "Check the paths."),
    ErrorCode("ADD-DUPLICATE-NAME", "Two frames would have the same name",
              "Two frames given to `add` have names that are equal after Unicode normalisation.",
              "Rename one of them."),
    ErrorCode("ADD-FRAME-NUMBER", "Frame numbers are missing or repeated",
              "A frame name has no frame number (`name.####.ext`), or two frames have the same number.",
              "Rename the frames, or give `--first-frame N` to number them in name order."),
    ErrorCode("ADD-FRAME-CORRUPT", "Frames cannot be read",
              "Some frames given to `add` cannot be decoded (the message lists up to 20); nothing was added.",
              "Replace the damaged frames with good copies."),
    ErrorCode("ADD-INCONSISTENT", "Frames differ in size or format",
              "The frames of one element differ in size, channel count or pixel type; nothing was added.",
              "Add frames of one scan only; the message lists those that differ."),
    ErrorCode("AMEND-NOTHING", "Nothing to amend",
              "`amend` without any field to change, or with values the element already records.",
              "Give at least one field with a new value (the hint lists the options)."),
    ErrorCode("AMEND-FIELDS", "The field cannot be amended",
              "A field that is not amendable (frames never change), or values that make the element record fail "
              "its schema.",
              "Amend only the listed fields; the message names the field at fault."),
    ErrorCode("AMEND-ELEMENT", "No such element",
              "`--element` names an element that is not in the package (the message lists those there are).",
              "Give one of the listed elements."),
    ErrorCode("AMEND-COLOUR-SPACE", "The colour space is not known",
              "`--colour-space` names a colour space that is not in the OpenColorIO config and is no alias "
              "archivist accepts.",
              "Give one of the names the message lists."),
    ErrorCode("AMEND-RIGHTS", "Unknown training use",
              "`--training-use` is not one of the listed values.",
              "Give one of the listed values."),
    ErrorCode("AMEND-DESCRIPTION", "An empty description",
              "`--description` is empty.",
              "Describe the element in the field's own words."),
    ErrorCode("AMEND-AUTHORISED-BY", "An authorisation names no one",
              "The amended rights say `authorised` but name no one who authorised it.",
              "Give `--authorised-by` with the training use."),
    ErrorCode("IPTC-RETIRED", "A retired IPTC digital source type",
              "A source type IPTC has retired from its vocabulary.",
              "Use the active term that replaced it."),
    ErrorCode("IPTC-UNKNOWN", "Not an IPTC digital source type",
              "A source type that is not in the IPTC digital source type vocabulary.",
              "Use one of the terms the hint lists."),
    ErrorCode("COLOUR-SPACE-UNKNOWN", "The colour space is not known",
              "A colour space name given to `archivist.imaging.colourspaces.resolve` without a command's own code "
              "is empty or not in the OpenColorIO config and no accepted alias.",
              "Give one of the names the message lists."),
    ErrorCode("COLOUR-READBACK", "A derived element's frames cannot be read back as recorded",
              "The derived element's `read_as` names an OpenColorIO config or colour space this installation "
              "does not have, so its frames would not be the working R'G'B' the run started from.",
              "Use the archivist release (and OpenColorIO config) that made the package."),
    # -- frames -----------------------------------------------------------------------------------
    ErrorCode("FRAME-RANGE", "Not a frame range",
              "Frame ranges given to `archivist.package.ranges.parse` without a command's own code have an item "
              "that is not a number or `A-B`, a range that runs backwards, or no range at all.",
              "Give frame numbers and ranges such as `1001-1003, 1010`."),
    ErrorCode("FRAME-UNREADABLE", "Not a readable image",
              "OpenImageIO cannot open the file as an image (unknown format, or not an image at all).",
              "Give a frame in a format OpenImageIO reads (DPX, TIFF, EXR, PNG, ...)."),
    ErrorCode("FRAME-CORRUPT", "Pixel data cannot be decoded",
              "The file opens as an image but its pixels cannot be read (truncated or damaged).",
              "Replace the frame with a good copy."),
    ErrorCode("FRAME-WRITE", "A frame cannot be written",
              "OpenImageIO has no writer for the format, or opening or writing the file failed (disk full, "
              "permissions).",
              "Check the free space and permissions of the destination."),
    # -- dataset ----------------------------------------------------------------------------------
    ErrorCode("DATASET-ELEMENT", "No such element, or one of the wrong role",
              "`--source` or `--reference` names an element that is not in the package, or a reference given as "
              "source (or the other way round).",
              "Use `archivist info PKG` to see the elements and their roles."),
    ErrorCode("DATASET-RIGHTS", "An element is not authorised for training",
              "The source or reference element is recorded as `not-authorised` for training.",
              "Only the rights holder can change that; record it with the element when they do."),
    ErrorCode("DATASET-CREDENTIAL-RIGHTS", "A frame's own Content Credentials do not allow AI training",
              "A frame of the source or reference element carries embedded Content Credentials whose "
              "`cawg.training-mining` (or `c2pa.training-mining`) assertion says `notAllowed` for AI training, "
              "and the package records no authorisation for the element.",
              "Ask the rights holder; record their authorisation on the element with `archivist amend`, which "
              "overrides what the frame's credentials say."),
    ErrorCode("DATASET-CHANNELS", "Source and reference channels differ",
              "The source and the reference do not both have 3 (RGB) or both 4 (RGBA) channels.",
              "Pair elements scanned with the same channels."),
    ErrorCode("DATASET-ALIGN-MODE", "Unknown alignment mode",
              "`--align` is not one of the listed modes.",
              "Give one of the listed modes."),
    ErrorCode("DATASET-TRANSFORM", "The manual transform cannot be used",
              "`--align manual` without `--transform FILE.json` (or the other way round), or a transform file "
              "that is not JSON, not an object, has a key that is not a frame number, a transform without "
              "`matrix` or `scale`/`rotation_deg`/`translation`, or nothing for a chosen source frame.",
              "Give both options together and correct the file as the message says (docs/dataset.md)."),
    ErrorCode("DATASET-THRESHOLD", "Negative alignment threshold",
              "`--align-threshold` is below 0.",
              "Give 0 or more."),
    ErrorCode("DATASET-MEDIAN", "Negative median size",
              "`--median` is below 0.",
              "Give 0 (off) or a filter size."),
    ErrorCode("DATASET-WORKING-SPACE", "Unknown working space",
              "The working space names no luma coefficients archivist knows.",
              "Give one of the listed working spaces."),
    ErrorCode("DATASET-RESAMPLE", "Unknown resampling method",
              "`--resample` is not one of the listed filters.",
              "Give one of the listed filters."),
    ErrorCode("DATASET-CROP", "The crop cannot be used",
              "`--crop` is not `X,Y,W,H`, or it does not lie inside the source frame, or it is smaller than the "
              "minimum size.",
              "Give a crop in source pixels that fits the frame, e.g. `0,140,2048,1280`."),
    ErrorCode("DATASET-PAIRS", "The training frames are not chosen one way",
              "None or more than one of `--pairs`, `--frames` and `--auto N`; `--offset` with `--pairs`; a pair "
              "that is not `SOURCE:REFERENCE`; an empty list; a source frame paired twice.",
              "Choose the frames one way, e.g. `--auto 4`."),
    ErrorCode("DATASET-FRAMES", "Not a list of source frames",
              "`--frames` has an item that is not a frame number, or a `SOURCE:REFERENCE` pair.",
              "Give source frame numbers to `--frames`, pairs to `--pairs`."),
    ErrorCode("DATASET-AUTO", "`--auto` asks for too few or too many pairs",
              "`--auto N` with N below 1 or above the number of source frames.",
              "Give a number between 1 and the number of source frames."),
    ErrorCode("DATASET-PREVIEW", "The held-out preview frames cannot be used",
              "Both `--preview-frames` and `--auto-preview`; a negative `--auto-preview`; more preview frames "
              "than untrained source frames; a preview frame that is also a training pair or named twice.",
              "Give preview frames that are never trained on, one way."),
    ErrorCode("DATASET-PAIRING", "Which reference frame goes with a source frame cannot be told",
              "The reference has no frame of the source frame's number and the elements differ in length.",
              "Give `--offset N` (reference = source + N) or explicit `--pairs SOURCE:REFERENCE`."),
    ErrorCode("DATASET-FRAME", "Chosen frames are not in the package",
              "A chosen source or reference frame number is not a frame of its element.",
              "Choose frames the elements have (the hint gives their ranges)."),
    ErrorCode("DATASET-SHAPE", "A frame is not the size its record says",
              "A frame's pixels differ in size from its element record, or an aligned reference from its "
              "cropped source.",
              _VERIFY_FIRST + "."),
    ErrorCode("DATASET-HASH", "Frames changed since they were added",
              "A source or reference frame, or a file of a dataset, no longer matches its recorded SHA-256 or "
              "the package manifest; nothing was written.",
              _VERIFY_FIRST + "."),
    ErrorCode("DATASET-ALIGN", "Frames cannot be aligned",
              "Some pairs could not be aligned below the alignment threshold (the message lists them).",
              "Check that the frames show the same picture; choose other frames, align by hand "
              "(`--align manual --transform FILE.json`) or raise `--align-threshold`."),
    ErrorCode("DATASET-COVERAGE", "The aligned reference does not cover the crop",
              "After alignment the reference leaves part of the crop empty.",
              "Crop to the part every aligned reference covers (the hint suggests a crop)."),
    ErrorCode("DATASET-EXISTS", "The dataset is already in the package",
              "`--id` names a dataset that exists; datasets are never replaced.",
              "Leave out `--id` to get the next free one."),
    ErrorCode("DATASET-FIELDS", "The dataset record cannot be made",
              "The options make the dataset record fail its schema; the message says which field.",
              "Correct that option."),
    ErrorCode("DATASET-ID", "Not a usable dataset id",
              "A dataset id that cannot be a record file name.",
              "Choose an id of letters, digits, `.`, `_` or `-`."),
    ErrorCode("DATASET-MISSING", "No such dataset",
              "The package has no dataset yet, or none of the id given (the message lists those there are).",
              "Run `archivist dataset` first, or give one of the listed ids."),
    ErrorCode("DATASET-RECORD", "The dataset record is invalid",
              "A dataset record in the package fails its schema.",
              "Run `archivist verify PKG` (REC-002) and restore the record from a copy."),
    # -- train ------------------------------------------------------------------------------------
    ErrorCode("TRAIN-USAGE", "`--run` and `--resume` misused",
              "Both `--run` and `--resume`, or a new run without `--mode`.",
              "Give `--resume RUN` alone to continue a run; give `--mode` for a new one."),
    ErrorCode("TRAIN-PRESET", "Unknown training preset",
              "`--preset` is not one of the listed presets.",
              "Give one of the listed presets, or set the options one by one."),
    ErrorCode("TRAIN-MODE", "Unknown training mode",
              "The mode is not `chroma` or `spatial`.",
              "Give `--mode chroma` or `--mode spatial`."),
    ErrorCode("TRAIN-SIZE", "Unknown model size",
              "The model size is not one of the listed sizes.",
              "Give one of the listed sizes."),
    ErrorCode("TRAIN-TONE", "`--tone` outside chroma mode",
              "`--tone` with `--mode spatial`.",
              "Leave out `--tone`, or train in chroma mode."),
    ErrorCode("TRAIN-SETTING", "A training setting is out of range",
              "Steps, batch, patch, checkpoint interval or threads below 1, a negative contact-sheet interval, or "
              "a learning rate that is not a positive number.",
              "Correct the setting the message names."),
    ErrorCode("TRAIN-DEVICE", "The device cannot be used",
              "A device that is not `auto`, `cpu` or `cuda`, or `cuda` where no CUDA device is available.",
              "Use `--device cpu` or `auto`."),
    ErrorCode("TRAIN-RIGHTS", "Elements are not authorised for training",
              "The dataset's elements include one recorded as `not-authorised` for training; nothing was trained.",
              "Record the authorisation on the element if it has been given."),
    ErrorCode("TRAIN-DATASET-MODE", "The dataset does not suit spatial training",
              "A spatial run on a dataset whose references are median-filtered, which removes the detail spatial "
              "training learns.",
              "Build a dataset for spatial recovery with the median filter off (`--median 0`)."),
    ErrorCode("TRAIN-DATASET", "The dataset cannot be trained on",
              "The dataset has no training pairs, or a pair's source and reference arrays differ in shape.",
              "Build a dataset with training pairs; run `archivist verify PKG` if it has them."),
    ErrorCode("TRAIN-SCRATCH-ALTERED", "A run trained on a Ray worker changed before it was committed",
              "A file a worker wrote in `.archivist/train/<run>` no longer has the SHA-256 the worker reported when "
              "the driver takes it into the package; nothing of that run was committed.",
              "Run the same command again: the datasets without a complete run are trained anew."),
    ErrorCode("TRAIN-EXISTS", "The training run already exists",
              "`--run` names a run that is in the package.",
              "Use `--resume RUN` to continue it, or choose another `--run`."),
    ErrorCode("TRAIN-PATCH", "The crop is too small for training",
              "The dataset's crop is smaller than the smallest training patch.",
              "Build a dataset with a larger crop."),
    ErrorCode("TRAIN-NO-RUN", "No such training run",
              "`train --resume` or `export --run` names a training run that is not in the package (the message "
              "lists those there are).",
              "Give one of the listed runs."),
    ErrorCode("TRAIN-RECORD-ALTERED", "The training record changed",
              "The training run's record no longer matches the package manifest.",
              _VERIFY_FIRST + "."),
    ErrorCode("TRAIN-RESUME-SETTINGS", "The run cannot be resumed with other settings",
              "`--resume` with settings that differ from the run's record (only `--steps` may change).",
              "Repeat the run's settings, or start a new run."),
    ErrorCode("TRAIN-RESUME-DONE", "The run has already reached its steps",
              "`--resume` with `--steps` no more than the steps of the run's last checkpoint.",
              "Give a larger `--steps` to train further."),
    ErrorCode("TRAIN-RESUME-DATASET", "The dataset changed since the run started",
              "The dataset record's SHA-256 differs from the one the run recorded.",
              _VERIFY_FIRST + "; or start a new run on the dataset as it is."),
    ErrorCode("TRAIN-CHECKPOINT-ALTERED", "The checkpoint changed or is another run's",
              "The last checkpoint of a resumed run is missing, no longer matches its record, or was made with "
              "other settings or at another step.",
              _VERIFY_FIRST + "."),
    ErrorCode("TRAIN-LOSS-ALTERED", "The loss log changed",
              "The loss log of a resumed run is missing or no longer matches its record.",
              _VERIFY_FIRST + "."),
    ErrorCode("TRAIN-CONCURRENT", "Another command changed the run",
              "The training run's record was created or changed by another process while this one trained; "
              "nothing was written.",
              "Train a run in one process at a time."),
    ErrorCode("TRAIN-INTERRUPTED", "Training was interrupted",
              "Ctrl-C during training. The package is valid and holds the run up to its last checkpoint.",
              "Run the command the message gives (`archivist train PKG --resume RUN`) to continue.",
              exit=EXIT_INTERRUPTED),
    ErrorCode("CHECKPOINT-FORMAT", "Not an archivist checkpoint",
              "A checkpoint that is not a safetensors file, not written by archivist, whose tensors cannot be "
              "read, or whose optimizer state does not match the model.",
              _VERIFY_FIRST + "."),
    # -- export -----------------------------------------------------------------------------------
    ErrorCode("EXPORT-NO-RUN", "No training run to export",
              "The package has no training run.",
              "Run `archivist train` first."),
    ErrorCode("EXPORT-RUN-AMBIGUOUS", "Which training run to export cannot be told",
              "The package has several training runs and no `--run` was given.",
              "Say which with `--run`."),
    ErrorCode("EXPORT-RECORD-ALTERED", "The training record changed",
              "The training run's record no longer matches the package manifest.",
              _VERIFY_FIRST + "."),
    ErrorCode("EXPORT-NO-CHECKPOINT", "No such checkpoint",
              "The run has no checkpoint yet, or none at the step `--checkpoint` names (the message lists them).",
              "Train further, or give one of the listed steps."),
    ErrorCode("EXPORT-EXISTS", "The model already exists",
              "`--id` names a model whose card or ONNX file is in the package.",
              "Choose another `--id`."),
    ErrorCode("EXPORT-CHECKPOINT-ALTERED", "The checkpoint changed or is another run's",
              "The checkpoint is missing, no longer matches its record, or was made with other settings or at "
              "another step than the record says.",
              _VERIFY_FIRST + "."),
    ErrorCode("EXPORT-DATASET", "The dataset changed since training",
              "The dataset record differs from the one the run was trained on, so the preview frame of the "
              "parity check cannot be trusted.",
              _VERIFY_FIRST + "."),
    ErrorCode("EXPORT-CHECK", "The exported model fails the ONNX checker",
              "`onnx.checker` rejects the exported graph (an internal error); nothing was written.",
              "Report it with the message."),
    ErrorCode("EXPORT-PARITY", "onnxruntime and torch disagree",
              "On the preview frame the exported model's output differs from the checkpoint's by more than the "
              "parity bound; nothing was written.",
              "Report it with the message; check the onnxruntime version."),
    ErrorCode("EXPORT-PASSTHROUGH", "Channels are not passed through bit for bit",
              "onnxruntime changes the channels the model promises to pass through unchanged; nothing was written.",
              "Report it with the message; check the onnxruntime version."),
    # -- infer ------------------------------------------------------------------------------------
    ErrorCode("INFER-NO-MODEL", "No such model",
              "The package holds no exported model, or none of the id `--model` gives.",
              "Train a model and run `archivist export` first, or give one of the listed models."),
    ErrorCode("INFER-MODEL-CHOICE", "Which model to run cannot be told",
              "The package holds several models and no `--model` was given.",
              "Choose one with `--model`."),
    ErrorCode("INFER-RECORD-ALTERED", "The model card or dataset record changed",
              "The model card, or the dataset record it names, is missing or no longer matches the manifest or "
              "the card.",
              _VERIFY_FIRST + "."),
    ErrorCode("INFER-MODEL-ALTERED", "The model changed",
              "The ONNX file is missing or no longer matches its model card and the manifest.",
              _VERIFY_FIRST + "."),
    ErrorCode("INFER-MODEL-CHECK", "The model fails the ONNX checker",
              "The archived ONNX file is damaged or not valid ONNX; nothing was written.",
              _VERIFY_FIRST + "."),
    ErrorCode("INFER-MODEL-EXTERNAL", "The model keeps tensors outside itself",
              "The ONNX file refers to external tensor data; a packaged model must hold its weights.",
              "Export the model again with `archivist export`."),
    ErrorCode("INFER-MODEL-DOMAIN", "The model uses non-standard operators",
              "The ONNX graph uses operators from domains other than the standard ones, which need code from "
              "outside the package.",
              "Export the model with standard ONNX operators only."),
    ErrorCode("INFER-MODEL-CARD", "The model card does not describe the model",
              "The graph's inputs differ from the card's, or the card's luma coefficients are not valid.",
              _VERIFY_FIRST + "."),
    ErrorCode("INFER-MODEL-LOAD", "onnxruntime cannot load the model",
              "onnxruntime refuses the model (the message gives its reason).",
              "Check the onnxruntime version; run `archivist verify PKG`."),
    ErrorCode("INFER-MODEL-IO", "The model's inputs or outputs are not what archivist runs",
              "A model with more than one input, or one whose output shape differs from its Y'CbCr input.",
              "Run models exported by archivist."),
    ErrorCode("INFER-TORCH-OP", "The PyTorch backend cannot run an operator",
              "The model uses an ONNX operator, or an operator setting, the PyTorch backend does not implement.",
              "Use `--backend ort-cpu` (or `ort-cuda` with onnxruntime-gpu installed)."),
    ErrorCode("INFER-BACKEND", "The backend cannot be used",
              "An unknown `--backend`, a backend that runs on another device than `--device`, or `ort-cuda` "
              "without a CUDA or TensorRT provider.",
              "Use `--backend ort-cpu` or `torch-cpu`, or install onnxruntime-gpu."),
    ErrorCode("INFER-DEVICE", "The device cannot be used",
              "An unknown `--device`, or `cuda` (or `torch-cuda`) where no CUDA device is available.",
              "Use `--device cpu` or `auto`."),
    ErrorCode("INFER-COLOUR-DEVICE", "Colours cannot be converted on the model's device",
              "The library was asked to convert colours on the device (`InferOptions.colour_on_device=True`) "
              "with an onnxruntime backend, which takes host arrays, or for a colour space whose transform "
              "to ACES 2065-1 holds an operation only OpenColorIO applies (a 1D LUT, as for ACEScc).",
              "Leave `colour_on_device` unset: the run then converts on the device where it can and on the "
              "host otherwise."),
    ErrorCode("INFER-RAY-SIGNER", "A ready signer object cannot be sent to Ray workers",
              "`infer` on Ray was given a signer object (a callback or HSM signer) through the library; workers "
              "sign their own frames and need the identity as files.",
              "Give the certificate and key as files on the shared filesystem (`--cert`/`--key`), or run without "
              "`--ray`."),
    ErrorCode("RAY-CONNECT", "No Ray cluster could be started or joined",
              "`--ray ADDRESS` names no reachable cluster, or a local cluster could not be started.",
              "Check the address (`ray status` on the head node), or give `--ray` without an address to run a "
              "cluster on this machine for the one command."),
    ErrorCode("RAY-WORKER", "A Ray worker cannot do its part",
              "A worker could not start (the package is not at the same path on its node, the archived model "
              "differs there, the backend cannot be built), `--workers` is below 1, or every worker of a run died "
              "and none could replace them.",
              "Put the package on a filesystem every node shares, at the same path, and run the same command "
              "again: a run resumes where it stopped."),
    ErrorCode("RAY-VERSIONS", "The cluster's workers run other versions than the driver",
              "Before anything is written, a worker reported another archivist, Python library or backend version, "
              "or another instruction-set level, than the driver's: its frames could differ from the run record's "
              "promise. The message lists each difference.",
              "Install the same archivist and libraries on every node (one image or environment for the cluster)."),
    ErrorCode("INFER-PARITY", "The backend disagrees with onnxruntime CPU",
              "On a test tile the chosen backend's output differs from onnxruntime CPU beyond the tolerance; "
              "nothing was written.",
              "Use `--backend ort-cpu`."),
    ErrorCode("INFER-ELEMENT", "Which source element to run on cannot be told",
              "No `--element` and not exactly one source element, an element not in the package, or a reference.",
              "Give `--element` with a source element."),
    ErrorCode("INFER-CHANNELS", "The frames are not R'G'B'",
              "The source element or a frame has fewer than three channels.",
              "Run the model on colour frames."),
    ErrorCode("INFER-COLOUR-SPACE", "The colour space is not known",
              "No colour space is recorded for the element nor given, or the name given is not known to the "
              "OpenColorIO config.",
              "Give `--colour-space` with one of the names the hint lists (e.g. `Rec.709`)."),
    ErrorCode("INFER-FRAME-SIZE", "The frames are too small for the model",
              "The element's frames are smaller than the model's minimum size.",
              "Run a model trained for frames of this size."),
    ErrorCode("INFER-TILE", "The tiling cannot be used",
              "A negative `--tile`, a tile no larger than its overlap or than the model's minimum, a negative "
              "`--overlap` or a tile batch below 1; or any tile for a model whose card says it must see whole "
              "frames (a frame field).",
              "Give a larger `--tile` or a smaller `--overlap`, or `--tile 0` for whole frames."),
    ErrorCode("INFER-COMPRESSION", "Unknown EXR compression",
              "`--compression` is not one of the listed methods.",
              "Give one of the listed methods."),
    ErrorCode("INFER-COMMIT", "`--commit-every` below 1",
              "`--commit-every` is 0 or negative.",
              "Give 1 or more."),
    ErrorCode("INFER-QUEUE", "`--queue-depth` below 1",
              "`--queue-depth` is 0 or negative.",
              "Give 1 or more."),
    ErrorCode("INFER-FRAMES", "Not a frame selection",
              "`--frames` has an item that is not a number or a range `A-B`, a range that runs backwards, is "
              "empty, or selects no frame of the element.",
              "Give frame numbers and ranges of the element's frames."),
    ErrorCode("INFER-SAMPLE", "`--sample` below 1",
              "`--sample N` with N below 1.",
              "Give 1 or more."),
    ErrorCode("INFER-DATE", "`SOURCE_DATE_EPOCH` is not a number",
              "The environment variable `SOURCE_DATE_EPOCH` is set to something other than seconds.",
              "Set it to a number of seconds since 1970, or unset it."),
    ErrorCode("INFER-NO-RUN", "No such inference run",
              "`qc --run` or `reproduce --run` names an inference run that is not in the package (the message "
              "lists those there are).",
              "Give one of the listed runs."),
    ErrorCode("INFER-RUN-SETTINGS", "The run was started with other settings",
              "Resuming an inference run with other model, frames, backend, tiling, colour, compression, source "
              "type, signing or archivist version.",
              "Repeat the options it was started with (see its record), or start a new run."),
    ErrorCode("INFER-RUN-BUSY", "Another `infer` works on the run",
              "Another archivist infer holds the run's working directory in `.archivist/runs/`.",
              "Wait for it to finish."),
    ErrorCode("INFER-SOURCE-MISSING", "A source frame is missing",
              "A source frame the run needs is not in the package.",
              _VERIFY_FIRST + "."),
    ErrorCode("INFER-SOURCE-ALTERED", "Source frames changed",
              "Source frames no longer match the SHA-256 of their element record; nothing was written.",
              _VERIFY_FIRST + "; archivist will not infer from altered frames."),
    ErrorCode("INFER-SCRATCH-ALTERED", "A finished frame changed before its commit",
              "A frame waiting in `.archivist/runs/` changed after it was written; nothing was committed.",
              "Run the same command again: the frame is made anew."),
    ErrorCode("INFER-OUTPUT-ALTERED", "Committed outputs changed",
              "Output files of the run being resumed no longer match its record.",
              _VERIFY_FIRST + " before resuming."),
    ErrorCode("INFER-NONFINITE", "The model produced NaN or infinite values",
              "A frame's model output has values that are not finite.",
              "Check the model (and its training); try `--backend ort-cpu`."),
    ErrorCode("INFER-CHAIN", "The chain of models cannot be run",
              "`infer --chain` with fewer than two models, a model named twice, a model not in the package, or "
              "`--model` as well.",
              "Give two or more exported models, first stage first: `--chain spatial-model,chroma-model`."),
    # -- derive -----------------------------------------------------------------------------------
    ErrorCode("DERIVE-NO-RUN", "No such inference run",
              "`derive --run` names a run the package does not hold.",
              "Give one of the runs `archivist info` lists."),
    ErrorCode("DERIVE-RUN-INCOMPLETE", "The run is not finished",
              "The run's record says `running`, or it has no output frames: only a complete run's outputs can "
              "become an element.",
              "Finish the run (run the same `archivist infer` command again), then derive."),
    ErrorCode("DERIVE-EXISTS", "The element id is taken",
              "An element or derived element with that id is already in the package.",
              "Give another `--element`."),
    ErrorCode("DERIVE-ALTERED", "The run's record or outputs changed",
              "The run record or one of its output frames no longer matches the manifest and the run record.",
              _VERIFY_FIRST + "."),
    ErrorCode("DERIVE-ROLE", "Unknown role",
              "A derived element is a `source` or a `reference`; another role was given.",
              "Give `--role source` or `--role reference`."),
    # -- reproduce --------------------------------------------------------------------------------
    ErrorCode("REPRO-NO-RUN", "No inference run to reproduce",
              "The package holds no inference run with output frames.",
              "Run `archivist infer` first."),
    ErrorCode("REPRO-FRAMES", "No frames to reproduce",
              "Both `--frames` and `--sample`, or a run without output frames in the selection.",
              "Give one of `--frames` or `--sample`, selecting frames the run made."),
    ErrorCode("REPRO-MODEL-ALTERED", "The model changed",
              "The run's ONNX model is missing or no longer matches the run record and the manifest.",
              _VERIFY_FIRST + "."),
    ErrorCode("REPRO-SCRATCH", "The scratch directory is inside the package",
              "The scratch directory given to `reproduce` (`scratch_dir`) lies inside the package, where its files "
              "would be in no manifest.",
              "Give a scratch directory outside the package."),
    # -- qc ---------------------------------------------------------------------------------------
    ErrorCode("QC-NO-RUN", "No complete inference run to judge",
              "The package has no complete inference run.",
              "Run `archivist infer` first."),
    ErrorCode("QC-RUN-INCOMPLETE", "The inference run is not complete",
              "`qc` names a run whose status is not `complete`.",
              "Run the same `archivist infer` command again to finish it."),
    ErrorCode("QC-HASH", "A file QC reads changed",
              "The model card, training record, loss log, an output frame or a record QC reads no longer matches "
              "its record or the package manifest.",
              _VERIFY_FIRST + "."),
    ErrorCode("QC-LOSS-LOG", "The training loss log cannot be read",
              "A line of the training run's `loss.jsonl` is not bounded JSON (too deep, an over-long integer, a "
              "repeated key) or not a loss entry with an integer step and numbers.",
              _VERIFY_FIRST + "."),
    ErrorCode("QC-NO-DATASET", "The run names no dataset",
              "The inference run records no dataset, so there are no held-out frames to judge.",
              "Judge a run of a model trained on a dataset in the package."),
    ErrorCode("QC-DATASET", "The dataset is not the model's",
              "The dataset differs from the one the model was trained on and the run used.",
              _VERIFY_FIRST + "."),
    ErrorCode("QC-COLOUR", "The colour conversion cannot be repeated",
              "The run converted colours with another OpenColorIO config than this version measures with, or a "
              "config or conversion OpenColorIO does not have.",
              "Judge the run with the archivist version that made it."),
    ErrorCode("QC-NO-HOLDOUT", "The dataset holds no frames out of training",
              "The dataset has no held-out preview frames, so nothing can be judged on frames the model never saw.",
              "Build a dataset with `--auto-preview K` or `--preview-frames`."),
    ErrorCode("QC-NO-OUTPUT", "No output for a held-out frame",
              "The run has no output frame for some held-out frames.",
              "Run `archivist infer` over those frames too."),
    ErrorCode("QC-ORIGINAL", "The original frames cannot be used",
              "`--original` cannot be read as frames, lacks a held-out frame's number, or holds a frame of "
              "another size than the source.",
              "Give the folder of the original frames, numbered like the source."),
    ErrorCode("QC-SOURCE", "The output was made from another source frame",
              "An output frame's source SHA-256 differs from the dataset's.",
              _VERIFY_FIRST + "."),
    ErrorCode("QC-SHAPE", "Output and source differ in size",
              "After the dataset's crop an output frame differs in size from its source.",
              _VERIFY_FIRST + "."),
    ErrorCode("QC-SETTING", "A QC setting is out of range",
              "An unknown interpolation, or a baseline LUT size outside 2-129, a negative smoothness, an anchor "
              "not above 0, or fewer than 1000 samples.",
              "Correct the setting the message names."),
    ErrorCode("QC-EXISTS", "The QC record already exists",
              "`--id` names a QC record that is in the package.",
              "Choose another `--id`."),
    ErrorCode("QC-RECORD", "The QC record cannot be made",
              "The QC record fails its schema (an internal error); nothing was written.",
              "Report it with the message."),
    ErrorCode("QC-MISSING", "No such QC record",
              "The package has no QC record yet, or none of the id given.",
              "Run `archivist qc` first, or give one of the listed ids."),
    ErrorCode("LUT-CUBE", "Not a readable .cube LUT",
              "A `.cube` file that is not UTF-8, has an unknown keyword or a malformed line, no `LUT_3D_SIZE`, the "
              "wrong number of table lines, a domain with max not above min, or values that are not finite.",
              "Correct the file as the message says (line numbers are given)."),
    ErrorCode("LUT-SAMPLES", "The LUT fit has no usable samples",
              "The sample arrays for a LUT fit are empty, of different lengths or not finite.",
              "Report it with the message."),
    ErrorCode("LUT-SIZE", "LUT size out of range",
              "A LUT size below 2 or above the maximum.",
              "Give a size in the range the message gives."),
    # -- report -----------------------------------------------------------------------------------
    ErrorCode("REPORT-PLACE", "The report cannot be written there",
              "The output file is inside the package (where it would be in no manifest) or is a directory.",
              "Give a file name outside the package, such as `report.html`."),
    ErrorCode("REPORT-TRUST-ANCHOR", "The trust anchor cannot be read",
              "`--trust-anchor` names a file that cannot be read.",
              "Check the path."),
    ErrorCode("DEMO-EXISTS", "The demo directory is not empty",
              "`archivist demo DIR` where DIR exists and is not an empty directory.",
              "Give a new directory, or remove this one."),
    # -- describe ---------------------------------------------------------------------------------
    ErrorCode("DESCRIBE-NOT-ARCHIVIST", "A plain bag has no records to describe",
              "The bag is not an archivist package, so there are no records to describe it from.",
              "Describe an archivist package."),
    ErrorCode("DESCRIBE-INTERRUPTED", "An earlier command was interrupted",
              "A command was killed inside a commit and left its journal or staging directory in `.archivist/`.",
              _RECOVER + "."),
    ErrorCode("DESCRIBE-RESOLVE-PLACE", "The Resolve metadata CSV cannot be written there",
              "`--resolve-csv FILE` names a file inside the package (where it would be in no manifest), a directory, "
              "or a file in a directory that does not exist.",
              "Give a file name outside the package, such as `resolve-metadata.csv`."),
    # -- transfer ---------------------------------------------------------------------------------
    ErrorCode("TRANSFER-FORMAT", "Not a transfer file name",
              "`archivist transfer PKG OUT` where OUT does not end in `.tar.gz`, `.tgz` or `.zip`.",
              "Name the output `NAME.tar.gz`, `NAME.tgz` or `NAME.zip`; NAME becomes the top-level directory."),
    ErrorCode("TRANSFER-INSIDE", "The transfer file would be inside the package",
              "OUT lies inside the package directory, where it would be a file in no manifest.",
              "Write the transfer file outside the package."),
    ErrorCode("TRANSFER-OUTPUT", "The output folder does not exist",
              "The directory OUT is to be written in is missing or not a directory.",
              "Create the directory first, or give another path."),
    ErrorCode("TRANSFER-BUSY", "A command is running or was interrupted",
              "The package has `.archivist/`: a command holds it, or one was killed and left its work behind.",
              "Wait for the command to finish, or run `archivist recover PKG`, then transfer."),
    ErrorCode("TRANSFER-HIDDEN", "The bag holds a hidden file",
              "A file or directory whose name starts with `.` (such as `.DS_Store`); Archivematica fails a "
              "transfer that holds one.",
              "Remove the hidden file (archivist never writes one), verify the package, then transfer."),
    ErrorCode("TRANSFER-NOT-FILE", "The bag holds a link or a special file",
              "A symbolic link, FIFO, socket or device inside the package.",
              "Run `archivist verify PKG`; remove what it reports, then transfer."),
    ErrorCode("TRANSFER-UNLISTED", "A payload file is in no manifest",
              "A file under `data/` that the manifests do not list, which would travel without fixity.",
              "Run `archivist verify PKG`; remove or recover the stray file, then transfer."),
    ErrorCode("TRANSFER-CHANGED", "A file does not match the manifests",
              "A file's SHA-256 as it was written into the archive differs from the package's manifests: the "
              "package is damaged or changed while it was read. Nothing is left at OUT.",
              "Run `archivist verify PKG` and restore the file from a copy, then transfer again."),
    ErrorCode("TRANSFER-READBACK", "The written archive does not read back as the bag",
              "Reading the new archive back gave other files or other hashes than were written (a failing disk "
              "or a full file system). Nothing is left at OUT.",
              "Check the disk OUT is on, then transfer again."),
    # -- deposit ----------------------------------------------------------------------------------
    ErrorCode("DEPOSIT-INSIDE", "The OCFL root and the package overlap",
              "The OCFL storage root lies inside the package, or the package inside the storage root.",
              "Give a storage root outside the package."),
    ErrorCode("DEPOSIT-BUSY", "A command is running or was interrupted",
              "The package has `.archivist/`: a command holds it, or one was killed and left its work behind.",
              "Wait for the command to finish, or run `archivist recover PKG`, then deposit."),
    ErrorCode("DEPOSIT-NOT-ARCHIVIST", "A plain bag has no package identifier",
              "The bag is not an archivist package, so it has no identifier to name its OCFL object by.",
              "Deposit an archivist package."),
    ErrorCode("DEPOSIT-ROOT", "Not an OCFL storage root",
              "`--ocfl` names a directory that exists but is not a valid OCFL storage root (no `0=ocfl_1.x` "
              "declaration, or one ocfl-py refuses).",
              "Give an OCFL storage root, or a path that does not exist yet to create one."),
    ErrorCode("DEPOSIT-OCFL", "ocfl-py refused the deposit",
              "The existing object does not validate, or ocfl-py could not build the new version.",
              "Check the object with `ocfl-validate.py ROOT`; nothing was changed."),
    ErrorCode("DEPOSIT-MISMATCH", "The new version differs from the package",
              "A file of the new OCFL version has another SHA-512 than the package's manifests give: the package "
              "changed or is damaged. Nothing was changed in the storage root.",
              "Run `archivist verify PKG` and restore the file from a copy, then deposit again."),
    ErrorCode("DEPOSIT-INVALID", "The new version does not validate",
              "ocfl-py's validator rejects the object with the new version. Nothing was changed in the storage "
              "root.",
              "Report the message; check the storage root with `ocfl-validate.py ROOT`."),
    # -- verify -----------------------------------------------------------------------------------
    ErrorCode("VERIFY-PROFILE", "Not a valid BagIt profile",
              "`--profile` names a file that cannot be read, is not JSON, or is not a valid BagIt Profile 1.4 "
              "document (the message lists the problems).",
              "Correct the profile, or give the right file."),
    ErrorCode("VERIFY-TRUST-ANCHOR", "The trust anchors cannot be used",
              "`--trust-anchor` names a file that cannot be read or holds no PEM certificate.",
              "Give CA certificates as PEM, e.g. `ca.pem` from `archivist keys init`."),
    # -- keys ------------------------------------------------------------------------------------
    ErrorCode("KEYS-NOT-A-DIR", "Not a directory",
              "`keys init DIR` where DIR exists and is a file.",
              "Give a new directory."),
    ErrorCode("KEYS-EXISTS", "The identity already exists",
              "`keys init` into a directory that already has a CA, chain, key or README; keys are never "
              "overwritten.",
              "Choose a new directory, or remove the old identity yourself."),
    ErrorCode("KEYS-INSIDE-PACKAGE", "Keys inside a package",
              "A signing key or identity directory that lies inside a package.",
              "Keep signing keys in a directory of their own, outside every package."),
    ErrorCode("KEYS-DAYS", "Validity out of range",
              "`--days` below 1 or above 3650.",
              "Give 1 to 3650 days."),
    ErrorCode("KEYS-NAME", "Name out of range",
              "`--name` is empty or longer than 64 characters.",
              "Give 1 to 64 characters."),
    ErrorCode("KEYS-EKU", "Unknown extended key usage",
              "`--eku` is not one of the listed usages.",
              "Give one of the listed usages."),
    # -- signing identities ----------------------------------------------------------------------
    ErrorCode("SIGN-NO-KEY", "No signing identity",
              "Signing was asked for but neither `--sign-cert`/`--sign-key` nor the environment variables give an "
              "identity, or a signed run resumed without one.",
              "Set the environment variables the hint names, or pass `--sign-cert` and `--sign-key`; "
              "`archivist keys init DIR` makes a test identity."),
    ErrorCode("SIGN-INCOMPLETE", "Certificate without key, or key without certificate",
              "Only one of `--sign-cert` and `--sign-key`.",
              "Give both."),
    ErrorCode("SIGN-CERT-MISSING", "The certificate chain cannot be read",
              "The certificate chain file does not exist, is a directory or cannot be read.",
              "Check the path and permissions."),
    ErrorCode("SIGN-KEY-MISSING", "The signing key cannot be read",
              "The signing key file does not exist, is a directory or cannot be read.",
              "Check the path and permissions."),
    ErrorCode("SIGN-CERT-UNREADABLE", "Not a PEM certificate chain",
              "The chain is not PEM certificates, or holds none.",
              "Give the chain as PEM: the signing certificate first, then its issuers."),
    ErrorCode("SIGN-CERT-CHAIN", "The chain is out of order",
              "A certificate of the chain is not issued by the next one.",
              "Order the chain leaf first, then each issuer."),
    ErrorCode("SIGN-CERT-EXPIRED", "A certificate has expired",
              "The signing certificate or an issuer of it expired; nothing was signed.",
              "Renew the certificate."),
    ErrorCode("SIGN-CERT-NOT-YET-VALID", "The certificate is not valid yet",
              "The signing certificate's validity starts in the future.",
              "Check the clock of this machine."),
    ErrorCode("SIGN-CERT-REQUIREMENTS", "The certificate does not meet C2PA's requirements",
              "The leaf certificate lacks what C2PA requires (issued by a CA, KeyUsage digitalSignature, an "
              "emailProtection or documentSigning EKU, an Authority Key Identifier, CA=false), or its key type "
              "has no C2PA algorithm.",
              "Use a certificate that meets them; `archivist keys init` makes one for testing."),
    ErrorCode("SIGN-KEY-PASSWORD", "The key cannot be opened with the password",
              "An encrypted key without a password, or a password for a key that is not encrypted.",
              "Give the key's password, or none for an unencrypted key."),
    ErrorCode("SIGN-KEY-UNREADABLE", "Not a PEM private key",
              "The key file is not a readable PEM private key.",
              "Give the PEM key issued with the signing certificate."),
    ErrorCode("SIGN-KEY-MISMATCH", "The key does not belong to the certificate",
              "The private key's public half differs from the signing certificate's.",
              "Give the key that was issued with the first certificate of the chain."),
    ErrorCode("SIGN-ALG", "The signing algorithm cannot be used",
              "An unknown algorithm, one that does not suit the certificate's key, or one `keys init` does not make.",
              "Use one of the algorithms the hint lists."),
    ErrorCode("SIGN-TSA-URL", "Not a timestamp authority URL",
              "`--tsa-url` is not an http(s) URL.",
              "Give an RFC 3161 TSA, e.g. `http://timestamp.digicert.com`."),
    ErrorCode("SIGN-TSA", "The timestamp authority failed",
              "The timestamp authority could not timestamp the signature, or returned no timestamp.",
              "Check the URL and the network; without `--tsa-url` credentials are untimestamped and expire with "
              "the certificate."),
    ErrorCode("SIGN-CALLBACK", "The signing callback failed",
              "A callback signer raised an exception while signing.",
              "Fix the callback (the message gives its error)."),
    ErrorCode("SIGN-FAILED", "Signing failed",
              "The C2PA SDK refused the certificate, key or callback signer, signing failed, or a test signature "
              "could not be read back or does not validate.",
              "Check that the key (or callback) matches the certificate and that the certificate is usable."),
    ErrorCode("SIGN-BINDING", "The asset changed while it was signed",
              "The signed data hash is not the SHA-256 archivist computed: the file changed during signing.",
              "Sign again once nothing else writes the file."),
    ErrorCode("SIGN-SEAL-PLACE", "The seal cannot be written there",
              "The seal is to be written to a file inside the package other than `tagmanifest-sha256.c2pa` in "
              "its root (the `out_path` of `sign_tag_manifest`).",
              "Write the seal to the package root, or to a file outside the package."),
    # -- Content Credentials ----------------------------------------------------------------------
    ErrorCode("CREDENTIAL-MISSING", "The asset or manifest is not a file",
              "The file to sign, or the asset or manifest to validate, does not exist or is not a file.",
              "Check the path."),
    ErrorCode("CREDENTIAL-EXISTS", "The credential already exists",
              "A `.c2pa` file is already where the credential would be written; credentials are not overwritten "
              "unless asked.",
              "Remove it, or sign with `overwrite=True`."),
    ErrorCode("CREDENTIAL-FORMAT", "The format cannot be signed",
              "No MIME type is known for the file's extension, or the C2PA SDK cannot sign the format.",
              "Pass the format explicitly, or sign a format the SDK supports."),
    ErrorCode("CREDENTIAL-DEFINITION", "The C2PA SDK rejects the manifest",
              "The manifest definition archivist built is refused by the C2PA SDK (the message gives its reason).",
              "Report it with the message."),
    ErrorCode("CREDENTIAL-INGREDIENT", "An ingredient is malformed",
              "An ingredient without a title, with a format that is not a MIME type, an unknown relationship, a "
              "second `parentOf`, or not a dict or `(path, sha256, title)`.",
              "Correct the ingredient; only the source frame is `parentOf`."),
    ErrorCode("CREDENTIAL-SHA256", "Not a SHA-256",
              "A SHA-256 that is not 64 lowercase hex digits.",
              "Give the digest as 64 lowercase hex digits."),
    ErrorCode("CREDENTIAL-PARAMETERS", "The action parameters are malformed",
              "Parameters that are not a JSON object of JSON values, or that use a name C2PA reserves.",
              "Rename or remove the parameter the message names."),
    ErrorCode("CREDENTIAL-AGENT", "The software agent is malformed",
              "A software agent that is not `{'name': str, 'version': str}`.",
              "Give both name and version."),
    ErrorCode("CREDENTIAL-PACKAGE", "No package identifier",
              "A credential for a package output without the package identifier.",
              "Give the package's `External-Identifier`."),
    ErrorCode("CREDENTIAL-ANCHORS", "The trust anchors are not PEM certificates",
              "Trust anchors given for validation hold no PEM certificate.",
              "Give the CA certificate(s) as PEM, e.g. `ca.pem` from `archivist keys init`."),
    # -- shots, scenes and scopes ---------------------------------------------------------------------
    ErrorCode("DATASET-SCOPE", "A frame lies outside the dataset's shot or scene",
              "`dataset --shot` or `--scene` with `--pairs`, `--frames` or `--preview-frames` naming a source frame "
              "outside the scope's ranges.",
              "Name frames of the shot (or scene), or leave out the scope."),
    ErrorCode("DATASET-REGION", "A training pair's region cannot be used",
              "`--region` that is not `FRAME:X,Y,W,H`, `FRAME:mask=FILE` or `all:...`; a rectangle outside the crop; "
              "a region for a frame that is not a training pair (held-out frames take none); a mask that cannot be "
              "read, is not the source frame's size, or marks no pixel inside the crop.",
              "Give rectangles in source pixels inside the crop, and masks of the source frame's size."),
    ErrorCode("TRAIN-REGION", "A pair's region holds no training patch",
              "A pair's recorded region marks no pixel of the crop, or holds no square of the patch size.",
              "Give a smaller `--patch`, or build the dataset again with a larger region."),
    ErrorCode("ADD-HAND-MADE", "The hand-made reference cannot be recorded",
              "`--hand-made` on a source element, without `--source-type digitalCreation` or `humanEdits`, without "
              "`--artwork-title`, or `--artwork-*` options without `--hand-made`.",
              "Declare a reference element hand-made with its IPTC source type and the artwork it was made from."),
    ErrorCode("SHOTS-FORMAT", "The shot list cannot be read",
              "`shots import` was given a file that is not UTF-8 text, not a readable CMX 3600 EDL or "
              "OpenTimelineIO timeline, a CSV without `first` and `last` columns or with a row that is not frame "
              "numbers, or a file whose suffix does not say its format.",
              "Check the file; give `--format edl`, `otio` or `csv` when the suffix is another."),
    ErrorCode("SHOTS-NONE", "The shot list lists no shot",
              "The EDL, timeline or CSV holds no clip (gaps and transitions are not shots) or no video track.",
              "Check that the file is the shot list of this reel."),
    ErrorCode("SHOTS-TIMECODE", "The timecode cannot be mapped to frame numbers",
              "An EDL without `--fps` (and an element without a recorded frame rate), a `--start` that is not a "
              "timecode at that rate, or an unknown `--timecode` side.",
              "Give `--fps`, and `--start` as HH:MM:SS:FF; docs/dataset.md says how timecode maps to frames."),
    ErrorCode("SHOTS-RANGE", "A shot's range is not a range of the element's frames",
              "A range that runs backwards, is not one `FIRST-LAST`, or lies wholly or partly outside the "
              "element's frame numbers (often a wrong `--fps`, `--timecode` side or `--start`).",
              "Give a range of the element's frames, or correct the timecode mapping."),
    ErrorCode("SHOTS-EXISTS", "A shot of that name is already there",
              "A shot name the list or `shots add` gives is already a shot of the package, or is given twice.",
              "Shots are never replaced: choose other names (`--prefix`, or a `name` column)."),
    ErrorCode("SHOTS-ELEMENT", "Which source element the shots are of cannot be told",
              "No `--element` and not exactly one source element, an element not in the package, or a reference.",
              "Give `--element` with a source element."),
    ErrorCode("SHOTS-NAME", "A shot or scene name is not usable",
              "A name with characters other than letters, digits, `.`, `_` and `-`, or longer than 64.",
              "Choose a name like `sh010` or `sc01`."),
    ErrorCode("SHOTS-SCENE", "The scene cannot be made",
              "A scene without shots, of shots of more than one element, or with a shot that is already in "
              "another scene.",
              "A shot belongs to one scene of its element; group each shot once."),
    ErrorCode("SHOTS-FIELDS", "A shot or scene record would not be valid",
              "A field would not validate against `archivist/shot/1` or `archivist/scene/1` (an internal error "
              "or a description that is not text).",
              "Check the values given; nothing was written."),
    ErrorCode("SCOPE-UNKNOWN", "No shot or scene of that name",
              "`--shot NAME` or `--scene NAME` names no shot or scene of the package; the message lists those "
              "there are.",
              "Run `archivist shots PKG list`, or import a shot list first."),
    ErrorCode("SCOPE-USAGE", "The scope is given twice or does not fit",
              "Both `--shot` and `--scene`, a scope with `--frames` or `--all-shots`, or a scope over another "
              "element than the one named.",
              "Give one scope, and let it choose the element and frames."),
    ErrorCode("SCOPE-NOTHING", "Nothing was made for that scope",
              "`train`, `qc` or `report` with `--shot` or `--scene` found no dataset, inference run or model "
              "made for that scope.",
              "Build the scope's dataset (`archivist dataset PKG --shot NAME`), train, export and infer it first."),
    ErrorCode("INFER-SHOTS-OVERLAP", "Two shots cover the same frame",
              "`infer --all-shots` found a frame of the element in more than one shot; nothing was inferred.",
              "Every frame belongs to one shot: import a corrected shot list into a new package, or a new "
              "set of shots."),
    ErrorCode("INFER-SHOTS-GAP", "Frames lie in no shot",
              "`infer --all-shots` found frames of the element that no shot covers; nothing was inferred.",
              "Add a shot over them, with `--leave-as-source` to keep them as scanned."),
    ErrorCode("INFER-SHOT-MODEL", "A shot has no model",
              "`infer --all-shots` found a shot (not left as source) with no exported model trained on a dataset "
              "of that shot or of its scene; nothing was inferred.",
              "Build a dataset with `--shot NAME` (or `--scene`), train and export it, or mark the shot "
              "`--leave-as-source`."),
]

CODES: dict[str, ErrorCode] = {c.code: c for c in _CODES}

FAMILIES = {
    "PACKAGE": "The package",
    "CLI": "The command line",
    "RECOVER": "archivist recover",
    "RECORD": "Records",
    "PATH": "Paths inside a package",
    "INIT": "archivist init",
    "ADD": "archivist add",
    "AMEND": "archivist amend",
    "IPTC": "IPTC digital source types",
    "COLOUR": "Colour spaces",
    "FRAME": "Reading and writing frames",
    "DATASET": "archivist dataset",
    "TRAIN": "archivist train",
    "CHECKPOINT": "Training checkpoints",
    "EXPORT": "archivist export",
    "INFER": "archivist infer",
    "DERIVE": "archivist derive",
    "REPRO": "archivist reproduce",
    "QC": "archivist qc",
    "LUT": "3D LUTs (qc baseline)",
    "REPORT": "archivist report",
    "DEMO": "archivist demo",
    "DESCRIBE": "archivist describe",
    "TRANSFER": "archivist transfer",
    "DEPOSIT": "archivist deposit",
    "VERIFY": "archivist verify",
    "RAY": "Ray clusters (`--ray` of infer, verify and train)",
    "KEYS": "archivist keys",
    "SIGN": "Signing identities",
    "CREDENTIAL": "Content Credentials",
    "SHOTS": "archivist shots",
    "SCOPE": "Shot and scene scopes",
}


def family(code: str) -> str:
    """The family of a code: the longest listed family it starts with.

    >>> family("PACKAGE-LOCKED"), family("INFER-MODEL-IO")
    ('PACKAGE', 'INFER')
    """
    return max((f for f in FAMILIES if code.startswith(f + "-")), key=len, default="")


def markdown() -> str:
    """The text of ``docs/errors.md``."""
    out = [
        "# Error codes",
        "",
        "When an archivist command cannot do what it was asked it changes nothing, prints `error: CODE: message` "
        "(and a `hint:` line where there is one) on standard error and exits with status 2 (130 for an "
        "interruption, which keeps what was committed before it). With `--json` the "
        "same error is printed on standard output as `{\"ok\": false, \"error\": {\"code\": ..., \"message\": "
        "..., \"hint\": ...}}`. Codes stay the same across releases, so scripts can match on them; the message "
        "and hint may be reworded.",
        "",
        "These are the codes of commands that stop. The problems `archivist verify` reports in a package are "
        "rules with codes of the form `FAMILY-NNN` (`BAG-010`, `PKG-001`), listed in "
        "[verify-rules.md](verify-rules.md); no command code family shares a name with a rule family.",
        "",
        "This page is generated from `archivist/error_codes.py`.",
        "",
        "## Exit status",
        "",
        "| Status | Meaning |",
        "|---|---|",
    ]
    out += [f"| {s.status} | {s.meaning} |" for s in EXIT_STATUSES]
    out += [
        "",
        "## Renamed codes",
        "",
        "These codes were renamed so that no command code shares a family with a verify rule:",
        "",
        "| Old | New |",
        "|---|---|",
    ]
    out += [f"| `{old}` | `{new}` |" for old, new in RENAMED.items()]
    out.append("")
    for fam, title in FAMILIES.items():
        out += [f"## {fam}: {title}", ""]
        for c in _CODES:
            if family(c.code) != fam:
                continue
            out += [f"### {c.code}: {c.meaning}", ""]
            if c.exit != EXIT_USAGE:
                out.append(f"- **Exit status:** {c.exit}")
            out += [f"- **Triggered by:** {c.trigger}", f"- **Fix:** {c.fix}", ""]
    return "\n".join(out).rstrip("\n") + "\n"
