"""dataset: curate, align and preprocess training pairs into a dataset record."""

from __future__ import annotations

import json
from pathlib import Path

import click

from archivist.cli.output import emit, json_option, package_argument, progress_for
from archivist.dataset import ALIGN_MODES, DEFAULT_MEDIAN, DEFAULT_THRESHOLD, build, load, parse_frames, parse_pairs
from archivist.dataset.preprocess import RESAMPLE_FILTERS, parse_crop
from archivist.errors import InputError
from archivist.imaging import colour
from archivist.package import Package


def _transform_file(path: Path | None):
    if path is None:
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("DATASET-TRANSFORM", f"{path}: not a readable JSON transform file ({exc})") from None


@click.command("dataset")
@package_argument()
@click.option("--source", required=True, help="Source element (the scan being restored).")
@click.option("--reference", required=True, help="Reference element (the picture to learn from).")
@click.option("--id", "dataset_id", help="Dataset id (default: the next free ds-NNN).")
@click.option("--pairs", help="Explicit SOURCE:REFERENCE frame pairs, e.g. 1001:1,1040:40.")
@click.option("--frames", help="Source frames to train on, e.g. 1001,1020,1040 (reference by --offset or the default rule).")
@click.option("--auto", "auto", type=int, is_flag=False, flag_value=0,
              help="Pick N source frames spread evenly over the element (or scope), ends included; --auto alone: "
                   "the rule of thumb for the scope (4 per shot, 16 per scene, 33 per element).")
@click.option("--shot", help="Build the dataset for one shot: pairs and held-out frames from its frames.")
@click.option("--scene", help="Build the dataset for one scene (a group of shots).")
@click.option("--region", "regions", multiple=True,
              help="Limit where training draws patches in a pair: FRAME:X,Y,W,H or FRAME:mask=FILE (source pixels), "
                   "'all:' for every pair; repeat for more rectangles.")
@click.option("--offset", type=int, help="Reference frame = source frame + N (with --auto or --frames).")
@click.option("--preview-frames", help="Held-out frames, never trained on: source numbers or SOURCE:REFERENCE.")
@click.option("--auto-preview", type=int, help="Hold out K frames midway between training frames (default 3, fewer when the shot has fewer to spare).")
@click.option("--crop", help="X,Y,W,H in source pixels, applied to source and aligned reference alike.")
@click.option("--resample", type=click.Choice(list(RESAMPLE_FILTERS)), default="lanczos3", show_default=True,
              help="Filter for matching the reference to the source resolution (and aligning it, in the same pass).")
@click.option("--align", "align_mode", type=click.Choice(ALIGN_MODES), default="auto", show_default=True)
@click.option("--transform", "transform_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="JSON transform(s) for --align manual.")
@click.option("--align-threshold", type=float, default=DEFAULT_THRESHOLD, show_default=True,
              help="Largest residual (1 - ZNCC of band-passed luma) a pair may keep after alignment.")
@click.option("--median", "median_size", type=int, default=DEFAULT_MEDIAN, show_default=True,
              help="Median filter size for the aligned reference; 0 turns it off.")
@click.option("--working-space", type=click.Choice(list(colour.COEFFICIENTS)), default="Rec.709", show_default=True,
              help="Y'CbCr coefficients of the working space.")
@click.option("--preview", is_flag=True, help="Write PNG contact sheets (source | aligned reference | difference).")
@json_option
def dataset(pkg, source, reference, dataset_id, pairs, frames, auto, shot, scene, regions, offset, preview_frames,
            auto_preview, crop, resample, align_mode, transform_file, align_threshold, median_size, working_space,
            preview, as_json):
    """Build a dataset in PKG: frame pairs, aligned and preprocessed references, one record."""
    from archivist.dataset.regions import parse as parse_regions
    from archivist.shots.scope import resolve

    p = Package.open(pkg)
    scope = resolve(p, shot, scene)
    frames_list = parse_frames(frames) if frames else None
    if frames_list and any(isinstance(f, tuple) for f in frames_list):
        raise InputError("DATASET-FRAMES", "--frames takes source frame numbers; use --pairs for SOURCE:REFERENCE")
    record = build(
        p, source=source, reference=reference, dataset_id=dataset_id,
        pairs=parse_pairs(pairs) if pairs else None, frames=frames_list, auto=auto, offset=offset,
        preview_frames=parse_frames(preview_frames) if preview_frames else None, auto_preview=auto_preview,
        crop=parse_crop(crop) if crop else None, resample=resample, align_mode=align_mode,
        transform=_transform_file(transform_file), align_threshold=align_threshold, median_size=median_size,
        working_space=working_space, preview=preview, progress=progress_for(as_json), scope=scope,
        regions=parse_regions(list(regions)) if regions else None)
    _, sha = load(p, record["id"])
    for w in record["warnings"]:
        click.echo(f"warning: {w}", err=True)
    emit(as_json, {"ok": True, "dataset": record, "sha256": sha}, lambda d: _print(record, sha))


def _print(rec: dict, sha: str) -> None:
    c = rec["crop"]
    click.echo(f"dataset {rec['id']}: {len(rec['pairs'])} pairs, {len(rec['holdout'])} held out; "
               f"{rec['reference_element']} aligned to {rec['source_element']} ({rec['alignment']['mode']}, "
               f"{rec['resample']['method']}), crop {c['x']},{c['y']} {c['width']}x{c['height']}, "
               f"median {rec['preprocessing']['median_size']}"
               + (f"; {rec['scope']['kind']} {rec['scope']['name']} ({rec['scope']['frames']})" if rec.get("scope") else ""))
    for tag, entries in (("pair", rec["pairs"]), ("held out", rec["holdout"])):
        for e in entries:
            t = e["transform"]
            click.echo(f"  {tag:<8} {e['source']['number']:>6} <- {e['reference']['element']} {e['reference']['number']:<6}"
                       f" scale {t['scale']:.4f}  rotation {t['rotation_deg']:+.3f} deg  translation "
                       f"({t['translation'][0]:+.2f}, {t['translation'][1]:+.2f}) px  residual {e['residual']:.3f}"
                       + ("  (region-limited)" if e.get("region") else ""))
    if rec.get("previews"):
        click.echo(f"  {len(rec['previews'])} preview sheets in {rec['previews'][0]['path'].rsplit('/', 1)[0]}")
    click.echo(f"  record sha256 {sha}")


COMMANDS = [dataset]
