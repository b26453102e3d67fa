"""The report as one self-contained HTML page, written for an archivist who is not an ML engineer.

Self-contained: styles are inline, images are data URIs, and there are no
scripts, fonts, links or anything else a browser would fetch. Every text
value from the package is escaped.
"""

from __future__ import annotations

from html import escape

from archivist.package.iptc import PREFIX as IPTC_PREFIX
from archivist.units import count_text, size_text

MAX_EVENTS = 300

CSS = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1d1d1f;
margin:0;background:#f4f4f1}
main{max-width:1180px;margin:0 auto;padding:24px 28px 64px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 8px;padding-top:12px;border-top:2px solid #ddd}
h3{font-size:16px;margin:22px 0 6px}.sub{color:#555;margin:0 0 16px}
p.what{color:#444;background:#f7f7f4;border-left:4px solid #b9b9b0;padding:6px 12px;margin:8px 0 12px}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13.5px}
th,td{border:1px solid #d8d8d2;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#efefea;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#11692b;font-weight:600}.bad{color:#a4161a;font-weight:600}.warn{color:#8a5300;font-weight:600}
.glance{border:1px solid #cfcfc7;background:#fafaf6;padding:10px 16px;border-radius:6px}
.glance dt{font-weight:600;margin-top:6px}.glance dd{margin:0 0 4px 0}
.verdict{font-size:16px;border-left:5px solid #3a6ea5;background:#eef3f9;padding:8px 14px}
figure{margin:10px 0 18px}figure img{max-width:100%;image-rendering:auto;border:1px solid #ccc}
figcaption{font-size:13px;color:#555}
code{font-size:12.5px;background:#f1f1ec;padding:0 3px}.nw{white-space:nowrap}
.small{font-size:12.5px;color:#555}.problem{color:#a4161a}.time{white-space:nowrap;font-variant-numeric:tabular-nums}
.sheets{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px;margin:10px 0 18px}
.sheets details{border:1px solid #d8d8d2;border-radius:4px;padding:6px;background:#fafaf6}
.sheets details[open]{grid-column:1/-1}.sheets summary{cursor:zoom-in;list-style:none}
.sheets summary::-webkit-details-marker{display:none}.sheets details[open] summary{cursor:zoom-out}
.sheets img{width:100%;display:block;border:1px solid #ccc}
.sheets .panels{display:flex;font-size:13px;font-weight:600;color:#333;margin:0 0 3px}
.sheets .panels span{flex:1;padding-right:4px}.sheets .cap{font-size:13.5px;margin:4px 0 0}
"""


def e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def code(value) -> str:
    """Inline code that may wrap only after a ``/``, never inside a word, a code or a term."""
    return code_html(e(value))


def code_html(escaped: str) -> str:
    """``code`` for text that is already escaped."""
    segments = escaped.replace("/", "/\0").split("\0")
    return "<code>" + "<wbr>".join(f"<span class='nw'>{s}</span>" for s in segments if s) + "</code>"


def num(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int,)):
        return str(value)
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return e(value)


def table(headers: list[str], rows: list[list], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kv(pairs: list[tuple[str, str]]) -> str:
    return "<table><tbody>" + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in pairs) + "</tbody></table>"


def figure(img: dict | None, caption: str) -> str:
    if not img:
        return ""
    if "uri" not in img:
        return f"<p class='problem'>{e(img.get('path'))}: {e(img.get('problem'))}</p>"
    shown = "shown reduced; the package's file: " if img.get("reduced") else ""
    return (f"<figure><img alt='{e(caption)}' src='{img['uri']}'><figcaption>{e(caption)} "
            f"<span class='small'>({shown}{e(img['path'])}, SHA-256 {e((img.get('sha256') or '')[:16])}...)</span>"
            f"</figcaption></figure>")


def what(text: str) -> str:
    return f"<p class='what'>{text}</p>"


def problems(section: dict) -> str:
    found = section.get("problems") or []
    return "".join(f"<p class='problem'>Could not read {e(p)}</p>" for p in found)


def status(ok: bool | None, yes: str = "yes", no: str = "no") -> str:
    if ok is None:
        return "<span class='warn'>unknown</span>"
    return f"<span class='ok'>{e(yes)}</span>" if ok else f"<span class='bad'>{e(no)}</span>"


def iptc_term(uri: str | None) -> str:
    if not uri:
        return "n/a"
    return e(uri[len(IPTC_PREFIX):] if uri.startswith(IPTC_PREFIX) else uri)


def algorithm_name(alg: str | None) -> str:
    """Signature algorithms as their standards spell them: ``Es256`` (as the C2PA SDK reports it) is ES256.

    >>> algorithm_name("Es256"), algorithm_name("ps384"), algorithm_name("ed25519")
    ('ES256', 'PS384', 'Ed25519')
    """
    if not alg:
        return "n/a"
    return "Ed25519" if alg.lower() == "ed25519" else alg.upper()


def payload_text(oxum: str | None) -> str:
    """``Payload-Oxum`` (``octets.files``) for people: ``8.4 MiB in 207 files (8,814,959 bytes)``."""
    octets, _, files = (oxum or "").partition(".")
    if not (octets.isdigit() and files.isdigit()):
        return e(oxum or "not recorded")
    return e(f"{size_text(int(octets))} in {count_text(int(files), 'file')} ({int(octets):,} bytes)")


# -- sections ----------------------------------------------------------------------------------

def at_a_glance(data: dict) -> str:
    ver = (data["verify"].get("result") or {})
    qc = (data["qc"].get("records") or [])
    prov = data["provenance"]
    items = []
    if ver:
        c = ver["counts"]
        items.append(("Package check (verify)", status(ver["ok"], "valid", "NOT valid")
                      + f" &mdash; {c['errors']} errors, {c['warnings']} warnings, {c['files']} files checked"))
    else:
        items.append(("Package check (verify)", "<span class='bad'>could not run</span>"))
    if qc:
        items.append(("Quality control verdict", e(qc[-1]["verdict"]["statement"])))
    else:
        items.append(("Quality control verdict", "no QC has been run on this package yet"))
    if prov.get("iptc"):
        items.append(("What the restored frames are (IPTC)", f"{code_html(iptc_term(prov['iptc'].get('uri')))}: "
                      + e(prov["iptc"].get("rule"))))
    c2pa = prov.get("c2pa")
    if c2pa:
        items.append(("Content Credentials (sample frame)", _c2pa_status(c2pa, prov.get("trust_anchor_given"))))
    seal = prov.get("seal")
    if seal:
        items.append(("Package seal", _c2pa_status(seal, prov.get("trust_anchor_given"))))
    return "<div class='glance'><dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl></div>"


def _c2pa_status(res: dict, anchored: bool | None) -> str:
    st = res.get("status")
    if st == "valid":
        return "<span class='ok'>valid</span>, signed by a trusted identity"
    if st == "untrusted":
        why = "" if anchored else " (no trust anchor was given to the report)"
        return f"<span class='warn'>intact but untrusted</span>: the signature is correct, the signer unknown{why}"
    codes = ", ".join(f.get("code") or "" for f in res.get("failures") or [])
    return f"<span class='bad'>INVALID</span> ({e(codes)})"


def package_html(data: dict) -> str:
    s = data["package"]
    rec = s.get("record") or {}
    out = ["<h2 id='package'>1. The package</h2>",
           what("A BagIt package (RFC 8493): every file is listed with its SHA-512 and SHA-256, so any change can "
                "be detected. Records in " + code("data/records/") + " describe every file and how it was made."),
           problems(s)]
    out.append(kv([("Title", e(rec.get("title"))), ("Identifier", f"{code(rec.get('identifier'))}"),
                   ("Organisation", e(rec.get("organization"))), ("Recovery type", e(rec.get("recovery"))),
                   ("Description", e(rec.get("description") or s.get("bag_info", {}).get("External-Description"))),
                   ("Created", e(rec.get("created"))),
                   ("Payload", payload_text(s.get("bag_info", {}).get("Payload-Oxum"))),
                   ("BagIt profile", f"{code(s.get('bag_info', {}).get('BagIt-Profile-Identifier'))}")]))
    out.append("<h3>Elements and their rights</h3>")
    out.append(what("The film elements the restoration starts from: the <b>source</b> is the scan being restored; "
                    "the <b>reference</b> shows the colour to recover. Training a model on an element needs the "
                    "rights holder's authorisation, recorded here."))
    rows = []
    for el in s.get("elements") or []:
        r, sc = el["rights"], el["scan"]
        use = r["training_use"]
        use_html = status(True, use) if use == "authorised" else (f"<span class='bad'>{e(use)}</span>"
                                                                   if use == "not-authorised" else f"<span class='warn'>{e(use)}</span>")
        rows.append([f"<b>{e(el['id'])}</b>", e(el["role"]), e(el["description"]) + hand_made_text(el.get("hand_made")),
                     code_html(iptc_term(el['digital_source_type'])),
                     f"{len(el['frames'])} ({el['frames'][0]['number']}&ndash;{el['frames'][-1]['number']})",
                     e(f"{sc['width']}x{sc['height']} {sc['pixel_type']} {sc['file_format']}"),
                     e(sc.get("colour_space", "not recorded")),
                     e(r["statement"]) + (f"<br><span class='small'>holder: {e(r['holder'])}</span>" if r.get("holder") else ""),
                     use_html + _authoriser(r)])
    out.append(table(["Element", "Role", "Description", "IPTC source type", "Frames", "Scan", "Colour space",
                      "Rights", "Training use"], rows))
    return "".join(out)


def _authoriser(rights: dict) -> str:
    if rights.get("authorised_by"):
        return f"<br><span class='small'>by {e(rights['authorised_by'])}</span>"
    if rights["training_use"] == "authorised":
        return "<br><span class='warn small'>who authorised it is not recorded</span>"
    return ""


def dataset_html(data: dict) -> str:
    s = data["dataset"]
    out = ["<h2 id='dataset'>2. The training pairs</h2>",
           what("A model learns from <b>pairs</b>: a source frame and the reference frame showing the same moment, "
                "aligned onto it. <b>Held-out</b> frames are aligned the same way but never used for training; the "
                "quality control judges the model on them. The residual measures how well a pair lines up "
                "(0 is perfect)."), problems(s)]
    if not s.get("datasets"):
        out.append("<p>No dataset has been built yet.</p>")
    for ds in s.get("datasets") or []:
        crop = ds["crop"]
        out.append(f"<h3>Dataset {e(ds['id'])}</h3>")
        out.append(kv([("Source / reference", f"{e(ds['source_element'])} / {e(ds['reference_element'])}"
                        + hand_made_text(ds.get("reference_hand_made"))),
                       ("Scope", e(f"{ds['scope']['kind']} {ds['scope']['name']}, frames {ds['scope']['frames']}")
                        if ds.get("scope") else "the whole element"),
                       ("Crop (source pixels)", e(f"x {crop['x']}, y {crop['y']}, {crop['width']}x{crop['height']}")),
                       ("Alignment", e(f"{ds['alignment']['mode']} ({ds['alignment']['model']}), threshold "
                                       f"{ds['alignment']['threshold']}")),
                       ("Reference clean-up", e(f"median filter size {ds['preprocessing']['median_size']}")),
                       ("Resampling", e(f"{ds['resample']['method']} ({ds['resample']['library']})")),
                       ("Working colour", e(f"Y'CbCr, {ds['colour']['coefficients']} coefficients; "
                                            f"{ds['colour']['conversion']}")),
                       ("Warnings", e("; ".join(ds.get("warnings") or []) or "none"))]))
        rows = []
        for kind, entries in (("training pair", ds["pairs"]), ("held out", ds.get("holdout") or [])):
            for p in entries:
                t = p["transform"]
                rows.append([e(p["source"]["number"]), e(p["reference"]["number"]), e(kind), num(p["residual"], 4),
                             e(_transform_text(t))])
        out.append(table(["Source frame", "Reference frame", "Use", "Residual", "Alignment found"], rows, {3}))
        shown = [i for i in ds.get("_previews") or [] if not i.get("skipped")]
        skipped = [i for i in ds.get("_previews") or [] if i.get("skipped")]
        if shown:
            out.append("<p class='small'>Alignment previews: each shows the source, the reference aligned onto it, "
                       "and their difference in brightness (black where they line up). Click one to see it large, "
                       "again to make it small.</p>")
            out.append(contact_sheets(ds, sorted(shown, key=lambda i: i["source_number"])))
        if skipped:
            out.append("<p class='small'>More alignment previews in the package: "
                       + ", ".join(f"{code(i['path'])}" for i in skipped) + "</p>")
    return "".join(out)


def contact_sheets(ds: dict, images: list[dict]) -> str:
    """Alignment previews as a grid of thumbnails, each opening to full width, labelled in the page's own text."""
    refs = {p["source"]["number"]: p["reference"]["number"] for p in [*ds["pairs"], *(ds.get("holdout") or [])]}
    median = ds["preprocessing"]["median_size"]
    cells = []
    for img in images:
        n = img.get("source_number")
        kind = "held out" if img.get("holdout") else "training pair"
        if "uri" not in img:
            cells.append(f"<div class='problem'>{e(img.get('path'))}: {e(img.get('problem'))}</div>")
            continue
        panels = "".join(f"<span>{e(t)}</span>" for t in (f"source {n}", f"reference {refs.get(n, '?')}",
                                                            "difference x4"))
        cleaned = f", median-filtered (size {median})" if median else ""
        cells.append(f"<details><summary><div class='panels'>{panels}</div>"
                     f"<img alt='alignment preview of source frame {e(n)}' src='{img['uri']}'>"
                     f"<p class='cap'><b>Frame {e(n)}</b>, {e(kind)}; the reference aligned onto it{e(cleaned)}<br>"
                     f"<span class='small'>{code(img['path'])}</span></p></summary></details>")
    return "<div class='sheets'>" + "".join(cells) + "</div>"


def _transform_text(t: dict) -> str:
    parts = []
    for key in ("scale", "rotation_degrees", "translation"):
        if key in t:
            v = t[key]
            parts.append(f"{key.replace('_', ' ')} " + (", ".join(f"{x:.2f}" for x in v) if isinstance(v, list)
                                                         else f"{v:.4g}"))
    return "; ".join(parts) or ", ".join(f"{k}" for k in t)


def training_html(data: dict) -> str:
    s = data["training"]
    qc = data["qc"].get("records") or []
    out = ["<h2 id='training'>3. Training</h2>",
           what("The model is trained on the pairs only. The <b>loss</b> is the average difference between the "
                "model's output and the ground truth on small patches; it should fall steadily. The held-out line "
                "shows the same difference on a frame the model never trained on: if it rose while the loss fell, "
                "the model would be memorising the pairs."), problems(s)]
    if not s.get("runs"):
        out.append("<p>No training run yet.</p>")
    for run in s.get("runs") or []:
        st = run["settings"]
        ls = run.get("loss_summary") or {}
        out.append(f"<h3>Training run {e(run['id'])} <span class='small'>({e(run['status'])})</span></h3>")
        out.append(kv([("Mode", e(run["mode"] + (" + tone" if run.get("tone") else ""))),
                       ("Model", e(f"{run['architecture']['name']}, {run['architecture']['size']}, "
                                   f"{run['architecture']['parameters']:,} parameters")),
                       ("Dataset", e(f"{run['dataset']['id']} ({run['dataset']['pairs']} pairs, "
                                     f"{run['dataset']['holdout']} held out)")),
                       ("Steps", e(f"{run['step']} of {st['steps']}")),
                       ("Batch / patch", e(f"{st['batch']} / {st['patch_effective']} px")),
                       ("Learning rate", e(f"{st['lr']} ({st['optimizer']['name']}, {st.get('lr_schedule', '')})")),
                       ("Loss", e(st["loss"])), ("Seed / threads / device",
                                                 e(f"{st['seed']} / {st['threads']} / {st['device']}")),
                       ("Loss: first, last, lowest", e(f"{num(ls.get('first'), 5)}, {num(ls.get('last'), 5)}, "
                                                       f"{num(ls.get('min'), 5)} (step {ls.get('min_step')})")),
                       ("Wall time", e(f"{run.get('wall_seconds', 0):.0f} s"))]))
        loss = next((r.get("_loss") for r in qc if r["training"]["id"] == run["id"] and r.get("_loss")), None)
        out.append(figure(loss, f"Loss curve of training run {run['id']}"))
        out.append(figure(run.get("_contact"), "Last contact sheet: input | ground truth | model output "
                                               "(preview frame)"))
    for card in s.get("models") or []:
        out.append(model_card_html(card))
    return "".join(out)


def model_card_html(card: dict) -> str:
    rights = "; ".join(f"{r['element']}: {r['training_use']}" for r in card.get("training_data_rights") or [])
    par = card.get("parity") or {}
    out = [f"<h3>Model card: {e(card['id'])}</h3>",
           what("The model card travels with the model: what it is for, what it must not be used for, and how it "
                "was checked when it was exported."),
           kv([("Intended use", e(card.get("intended_use"))),
               ("Limitations", "<ul>" + "".join(f"<li>{e(x)}</li>" for x in card.get("limitations") or []) + "</ul>"),
               ("Format", e(f"{card['format']['name']} opset {card['format']['opset']}, "
                            f"{card['model']['size']:,} bytes")),
               ("File", f"{code(card['model']['path'])}<br><span class='small'>SHA-256 "
                        f"{e(card['model']['sha256'])}</span>"),
               ("Trained by", e(f"run {card['run']['id']}, checkpoint at step {card['checkpoint']['step']}")),
               ("Training-data rights", e(rights)),
               ("Export check", e(f"onnxruntime against PyTorch: largest difference {num(par.get('max_abs_error'), 8)}"
                                  f" (bound {par.get('bound')}); pass-through channels bit-exact: "
                                  f"{'yes' if par.get('passthrough_bit_exact') else 'no'}"))])]
    return "".join(out)


METRIC_ROWS = [
    ("ciede2000", "mean", "Colour difference CIEDE2000, mean", "How far the colours are from the target, averaged "
     "over the frame. About 1 is the least a viewer notices side by side; lower is better."),
    ("ciede2000", "p95", "CIEDE2000, 95th percentile", "The colour difference that only 5% of the pixels exceed: "
     "how bad the worst areas are."),
    ("ciede2000_lightness", "mean", "&nbsp;&nbsp;lightness part, mean", "The part of the difference due to "
     "lightness alone."),
    ("ciede2000_chroma", "mean", "&nbsp;&nbsp;colour part, mean", "The part due to colourfulness and hue: what "
     "chroma recovery is meant to fix."),
    ("psnr_cb", None, "PSNR of Cb (dB)", "Agreement of the blue-difference colour channel; higher is better."),
    ("psnr_cr", None, "PSNR of Cr (dB)", "Agreement of the red-difference colour channel; higher is better."),
    ("luma_max_change", None, "Largest change of luma", "How much the brightness picture changed from the scan; "
     "chroma recovery should keep it (near 0)."),
    ("colourfulness_ratio", None, "Colourfulness ratio", "Colourfulness (Hasler and Suesstrunk) against the "
     "target's: below 1 is duller, above 1 more saturated."),
    ("grain_ratio", None, "Grain ratio", "Fine texture (grain) kept from the scan: 1 keeps it all, below 1 "
     "smooths it away."),
    ("chroma_grain_ratio", None, "&nbsp;&nbsp;in the colour channels", "The same for the colour channels only."),
]


def metrics_table(cands: dict) -> str:
    shown = [c for c in ("source", "baseline", "baseline_rgb", "ml") if c in cands]  # older records: no plain LUT
    rows = []
    for key, sub, label, meaning in METRIC_ROWS:
        vals = []
        for c in shown:
            v = cands[c][key]
            v = v[sub] if sub else v
            vals.append(num(v, 4 if key == "luma_max_change" else 2))
        rows.append([label] + vals + [e(meaning)])
    names = {"source": "Source as scanned", "baseline": "LUT baseline", "baseline_rgb": "Full-RGB LUT",
             "ml": "ML result"}
    return table(["Measure"] + [names[c] for c in shown] + ["What it means"], rows, set(range(1, len(shown) + 1)))


def qc_html(data: dict) -> str:
    s = data["qc"]
    out = ["<h2 id='qc'>5. Quality control: did the model recover the colour?</h2>",
           what("Following the chroma recovery guide's MatchGrade comparison, the model is judged against a "
                "traditional baseline: a 3D LUT (a colour lookup table, as a colourist would build) fitted on the "
                "same training pairs. Both are measured on the held-out frames against the <b>ground truth</b> "
                "(the scan's own brightness with the reference's colour, exactly what the model was trained to "
                "produce) and, when known, against the <b>true original</b>. The verdict comes from these numbers "
                "alone."), problems(s)]
    if not s.get("records"):
        out.append("<p>No QC has been run yet: " + code("archivist qc PKG") + ".</p>")
    for rec in s.get("records") or []:
        v = rec["verdict"]
        out.append(f"<h3>QC {e(rec['id'])} of inference run {e(rec['inference']['id'])} "
                   f"<span class='small'>({e(rec['created'])})</span></h3>")
        out.append(f"<p class='verdict'>{e(v['statement'])}</p>")
        if rec.get("verdict_original"):
            out.append(f"<p class='verdict'>{e(rec['verdict_original']['statement'])}</p>")
        if rec.get("spatial"):
            out.append(spatial_html(rec["spatial"]))
        for w in rec.get("warnings") or []:
            out.append(f"<p class='warn'>Warning: {e(w)}</p>")
        out.append(f"<p>Held-out frames: {e(', '.join(map(str, rec['dataset']['held_out'])))}; the LUT was "
                   f"fitted on frames {e(', '.join(map(str, rec['dataset']['pairs'])))}.</p>")
        out.append("<h3>Against the ground truth</h3>" + metrics_table(rec["summary"]["ground_truth"]))
        if "original" in rec["summary"]:
            out.append("<h3>Against the true original</h3>")
            out.append("<p class='small'>Known only because this material is synthetic. The reference itself has "
                       "another grade than the original, so no method trained on it can reach 0 here.</p>")
            out.append(metrics_table(rec["summary"]["original"]))
        rows = []
        for f in rec["frames"]:
            g = f["ground_truth"]
            ml, base = g["ml"]["ciede2000"]["mean"], g["baseline"]["ciede2000"]["mean"]
            rows.append([e(f["number"]), num(g["source"]["ciede2000"]["mean"]), num(base), num(ml),
                         status(ml < base, "ML closer", "LUT as close or closer")])
        out.append("<h3>Frame by frame (mean CIEDE2000 against the ground truth)</h3>")
        out.append(table(["Frame", "Source", "LUT baseline", "ML result", "Which is closer"], rows, {1, 2, 3}))
        b = rec["baseline"]
        out.append(kv([("Baseline LUT", f"{code(b['lut']['path'])} ({b['size']}<sup>3</sup>, "
                                        f"{e(b['space'])}); {e(b['applies'])}"),
                       ("Baseline luma", e(b["luma"])), ("Ground truth", e(rec["ground_truth"])),
                       ("Colour assumptions", e(rec["colour"]["lab"]))]))
        for f in rec["frames"]:
            out.append(figure(f.get("_strip"), f"Held-out frame {f['number']}: source | reference (ground truth) | "
                                               "[true original] | LUT baseline | ML result | colour difference maps"
                                               " (black 0, yellow 10 or more CIEDE2000)"))
    return "".join(out)


def spatial_html(sp: dict) -> str:
    """A spatial stage's QC against the resize-and-sharpen baseline (``archivist.qc.sharpen``)."""
    out = ["<h3>Detail: against a plain resize and sharpen</h3>",
           f"<p class='verdict'>{e(sp['verdict']['statement'])}</p>"]
    if sp.get("verdict_original"):
        out.append(f"<p class='verdict'>{e(sp['verdict_original']['statement'])}</p>")
    names = {"source": "Source as given", "baseline": "Resize and sharpen", "ml": "ML result"}
    rows = [[e(basis.replace("_", " ")), e(names[c]), num(cands[c]["psnr_luma"]), num(cands[c]["detail_ratio"]),
             num(cands[c]["grain_ratio"])]
            for basis, cands in sp["summary"].items() for c in ("source", "baseline", "ml")]
    out.append(table(["Against", "Candidate", "Luma PSNR (dB)", "Detail ratio", "Grain ratio"], rows, {2, 3, 4}))
    m = sp["baseline"]["unsharp_mask"]
    out.append(kv([("Baseline", e(sp["baseline"]["method"]) + f" (radius {num(m['sigma'])} px, amount "
                                                              f"{num(m['amount'])})"),
                   *[(k.replace("_", " ").capitalize(), e(v)) for k, v in sp["measures"].items()]]))
    return "".join(out)


def inference_html(data: dict) -> str:
    s = data["provenance"]
    out = ["<h2 id='outputs'>4. The restored frames</h2>",
           what("The archived model was run over the source element. Every output frame carries its provenance in "
                "its EXR header, in JSON, text and XMP sidecars and, when signed, in a C2PA Content Credential."),
           problems(s)]
    rows = []
    for r in s.get("runs") or []:
        signing = "signed" if r.get("signing") else "not signed"
        rows.append([e(r["id"]), e(r["status"]), e(r["frame_count"]), e(r["model"]["id"]),
                     e(f"{r['backend']['name']} ({r['backend']['engine']['name']} {r['backend']['engine']['version']})"),
                     e(r["settings"]["colour"]["conversion"]["destination"]), e(signing)])
    if rows:
        out.append(table(["Run", "Status", "Frames", "Model", "Engine", "Output colour", "C2PA"], rows))
    for r in s.get("runs") or []:
        up = r.get("upstream")
        if up:
            steps = [f"{e(m['mode'])} model {e(m['id'])} (run {e(m['run'])})" for m in up["models"]]
            steps.append(f"{e(r['provenance']['mode'])} model {e(r['model']['id'])} (run {e(r['id'])})")
            chain = " &rarr; ".join(steps)
            out.append(f"<p>Run {e(r['id'])} is the last stage of a combined recovery: {chain}. It read the earlier "
                       f"run's outputs as derived element {e(up['element'])}, without copies; every frame names the "
                       "earlier stage's frame as its parent, and every model is an ingredient of its credential.</p>")
    else:
        out.append("<p>No inference run yet.</p>")
    return "".join(out)


def shots_html(data: dict) -> str:
    """The per-shot table: shot, frames, scene, model (and the scope it was trained for), pairs, QC verdict."""
    s = data.get("shots") or {}
    if not s.get("rows") and not s.get("scope"):
        return ""
    sc = s.get("scope")
    title = "Shots" + (f": {sc['kind']} {e(sc['name'])} ({e(sc['frames'])})" if sc else "")
    out = [f"<h2 id='shots'>{title}</h2>",
           what("The reel divided into shots: each shot is restored with the model trained for it (or for its "
                "scene), judged by its own quality control. A shot left as source keeps its frames as scanned."),
           problems(s)]
    rows = []
    for r in s.get("rows") or []:
        frames = f"{r['first']}&ndash;{r['last']} ({r['frames']})"
        if r["leave_as_source"]:
            rows.append([f"<b>{e(r['shot'])}</b>", frames, e(r.get("scene") or ""), "left as source", "", "", ""])
            continue
        model = e(r["model"]) + (f"<br><span class='small'>trained for {e(r['trained_for'])}</span>"
                                 if r.get("trained_for") and r["trained_for"] != f"shot {r['shot']}" else "") \
            if r.get("model") else "<span class='warn'>no model yet</span>"
        pairs = (e(r["pairs"]) + (f" ({e(r['region_limited'])} region-limited)" if r.get("region_limited") else "")
                 if r.get("model") else "")
        qc = r.get("qc")
        verdict = (status(qc["ml_beats_baseline"], "beats the baseline", "does not beat the baseline")
                   + f"<br><span class='small'>{e(qc['statement'])}</span>") if qc else "no QC yet"
        rows.append([f"<b>{e(r['shot'])}</b>", frames, e(r.get("scene") or ""), model, pairs, e(r.get("run") or ""),
                     verdict])
    out.append(table(["Shot", "Frames", "Scene", "Model", "Pairs", "Inference run", "QC verdict"], rows))
    return "".join(out)


def hand_made_text(hm: dict | None) -> str:
    """A hand-made reference in words, for the element and dataset tables."""
    if not hm:
        return ""
    art = hm["artwork"]
    parts = [f"made from &lsquo;{e(art['title'])}&rsquo;"]
    if art.get("creator"):
        parts.append(f"by {e(art['creator'])}")
    if art.get("holding_institution"):
        parts.append(f"held by {e(art['holding_institution'])}")
    if art.get("rights"):
        parts.append(f"rights: {e(art['rights'])}")
    return (f"<br><span class='small'>hand-made reference ({e(hm['source_type'])}): the colour comes from a "
            f"human-made reference, {', '.join(parts)}</span>")


def provenance_html(data: dict) -> str:
    s = data["provenance"]
    out = ["<h2 id='provenance'>6. Provenance of a sample output frame</h2>",
           what("What a downstream user sees when they open one restored frame: the header keys any EXR reader "
                "shows, the IPTC digital source type that labels it as made with a trained model, and the result "
                "of validating its Content Credential.")]
    if "frame" not in s:
        out.append("<p>No output frames yet.</p>")
        return "".join(out)
    f = s["frame"]
    out.append(f"<p>Frame {e(f['number'])} of run {e(s['run_id'])}: {code(f['output']['path'])}<br>"
               f"<span class='small'>SHA-256 {e(f['output']['sha256'])}</span></p>")
    if s.get("iptc"):
        i = s["iptc"]
        out.append(kv([("IPTC digital source type", f"{code(i.get('uri'))}"),
                       ("Why", e(i.get("rule"))), ("Overridden by the user", e("yes" if i.get("overridden") else "no"))]))
    header = s.get("header") or {}
    if header:
        rows = [[f"{code(k)}", e(_short(v))] for k, v in sorted(header.items())]
        out.append("<h3>EXR header keys</h3>" + table(["Key", "Value"], rows))
    c2pa = s.get("c2pa")
    if c2pa:
        out.append("<h3>C2PA Content Credential</h3>")
        sig = c2pa.get("signature") or {}
        acts = "; ".join(f"{a.get('action')}" + (f" ({iptc_term(a.get('digitalSourceType'))})"
                                                   if a.get("digitalSourceType") else "")
                         for a in c2pa.get("actions") or [])
        ingr = "".join(f"<li>{e(c.get('title'))} <span class='small'>({e(c.get('relationship'))}, "
                       f"{e(c.get('path'))})</span> hash {status(c.get('ok'), 'matches', 'DOES NOT match')}</li>"
                       for c in c2pa.get("ingredient_checks") or [])
        out.append(kv([("Status", _c2pa_status(c2pa, s.get("trust_anchor_given"))),
                       ("Manifest", f"{code(c2pa.get('manifest_path'))} (detached: EXR cannot embed one)"),
                       ("Signed by", e(sig.get("common_name") or sig.get("issuer"))),
                       ("Issuer", e(sig.get("issuer"))), ("Algorithm", e(algorithm_name(sig.get("alg")))),
                       ("Trusted timestamp", e("yes" if c2pa.get("timestamped") else "no")),
                       ("Actions", e(acts)), ("Digital source type", f"{code(c2pa.get('digital_source_type'))}"),
                       ("Ingredients", f"<ul>{ingr}</ul>" if ingr else "none"),
                       ("Failures", e(", ".join(x.get("code") or "" for x in c2pa.get("failures") or []) or "none"))]))
    else:
        out.append("<p>This frame has no Content Credential (the run was not signed).</p>")
    return "".join(out)


def _short(v, limit: int = 300) -> str:
    text = str(v)
    return text if len(text) <= limit else text[:limit] + " ..."


def verify_html(data: dict) -> str:
    s = data["verify"]
    res = s.get("result")
    out = ["<h2 id='verify'>7. Full package check (verify)</h2>",
           what(code("archivist verify") + " checks what an auditor would: BagIt structure and every checksum, "
                "the BagIt profile, every record against its schema, the event log's hash chain, and that records "
                "and manifests agree. It never changes the package."), problems(s)]
    if not res:
        return "".join(out)
    c = res["counts"]
    anchors = ("the trust anchor given to the report" if s.get("trust_anchor_given")
               else "none given: signatures can be checked, signers not trusted")
    out.append(kv([("Result", status(res["ok"], "valid", "NOT valid")), ("Profile", f"{code(res.get('profile'))}"),
                   ("Trust anchors", e(anchors)),
                   ("Files checked", e(f"{count_text(c['files'], 'file')}, {size_text(c['bytes'])} "
                                       f"({c['bytes']:,} bytes)")),
                   ("Errors / warnings", e(f"{c['errors']} / {c['warnings']}"))]))
    if res["problems"]:
        rows = [[e(p["severity"]), f"{code(p['code'])}", f"{code(p.get('path'))}", e(p["message"])]
                for p in res["problems"]]
        out.append(table(["Severity", "Rule", "Path", "Problem"], rows))
    else:
        out.append("<p class='ok'>No problems found.</p>")
    return "".join(out)


def events_html(data: dict) -> str:
    evs = data["package"].get("events") or []
    out = ["<h2 id='events'>8. What was done, in order (event log)</h2>",
           what("Every command that changed the package left one event. Each event carries the hash of the one "
                "before it, so removing or editing an event is detected by verify.")]
    rows = [[f"<span class='time'>{e(ev['time'])}</span>", e(ev["command"]), e(ev["outcome"]), e(ev.get("detail", ""))]
            for ev in evs[-MAX_EVENTS:]]
    out.append(table(["Time (UTC)", "Command", "Outcome", "Detail"], rows))
    return "".join(out)


GLOSSARY = [
    ("Luma and chroma", "Luma is the brightness picture (where grain and detail live); chroma is the colour laid "
                        "over it. Chroma recovery restores the colour and keeps the scan's luma untouched."),
    ("Ground truth", "What the model is trained to produce: the scan's luma with the aligned reference's colour."),
    ("Held-out frame", "A frame with a reference, aligned like the training pairs but never shown to the model "
                       "during training: a fair test."),
    ("LUT baseline", "A 3D colour lookup table fitted from the same pairs, as a colourist's matching tool would "
                     "make. It applies one colour correction everywhere, so it cannot follow fading that varies "
                     "across the frame or along the shot."),
    ("CIEDE2000", "The CIE's colour-difference formula (2000). Around 1 is barely visible side by side; above 5 "
                  "is a clearly different colour."),
    ("IPTC digital source type", "A standard label for how an image was made; restored frames are labelled as "
                                 "made with a trained algorithm."),
    ("C2PA Content Credential", "A signed statement attached to a file, saying what it was made from and how; "
                                "any change to the file breaks it."),
]


def _section(fn, data: dict) -> str:
    """One section; a record that passes its schema but lacks an optional field the section shows is noted."""
    try:
        return fn(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        name = fn.__name__.removesuffix("_html").replace("_", " ")
        return (f"<p class='small'>The {e(name)} section could not be shown: a record lacks or has an unexpected "
                f"{e(type(exc).__name__)} {e(str(exc)[:200])}; run <code>archivist verify</code>.</p>")


def render(data: dict) -> str:
    rec = data["package"].get("record") or {}
    title = rec.get("title") or "untitled package"
    toc = ("<p class='small'>Contents: <a href='#package'>package</a> &middot; <a href='#dataset'>training pairs</a>"
           " &middot; <a href='#training'>training</a> &middot; <a href='#outputs'>restored frames</a> &middot; "
           "<a href='#qc'>quality control</a> &middot; <a href='#provenance'>provenance</a> &middot; "
           "<a href='#verify'>verify</a> &middot; <a href='#events'>events</a> &middot; "
           "<a href='#glossary'>glossary</a></p>")
    body = [f"<h1>Restoration report: {e(title)}</h1>",
            f"<p class='sub'>{e(rec.get('identifier'))} &middot; {e(rec.get('organization'))} &middot; "
            f"generated {e(data['generated'])} by archivist {e(data['archivist_version'])}</p>",
            toc, *(_section(fn, data) for fn in (at_a_glance, package_html, dataset_html, training_html,
                                                 inference_html, shots_html, qc_html, provenance_html, verify_html,
                                                 events_html)),
            "<h2 id='glossary'>Glossary</h2>",
            "<dl>" + "".join(f"<dt><b>{e(k)}</b></dt><dd>{e(v)}</dd>" for k, v in GLOSSARY) + "</dl>"]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{e(title)}: restoration "
            f"report</title><style>{CSS}</style></head><body><main>" + "".join(body) + "</main></body></html>\n")
