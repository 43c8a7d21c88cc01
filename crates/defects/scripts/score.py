#!/usr/bin/env python3
# Copied unchanged (below this comment) from the independent evaluation's scorer,
# ../shared/eval/score.py (2026-12-06), so the repository does not depend on
# ../shared at run time; scripts/evaluate.py imports it. Keep it in step by copying.
"""Score a video-defect detector against a set's labels.json: the scorer framebreak's independent
evaluation uses, so your own sets are measured the same way.

labels.json is a list with one entry per clip:
    {"file": "clip_017.mp4", "clean": false,
     "defects": [{"kind": "melt", "start_frame": 29, "end_frame": 47}]}
(clean clips have "clean": true and no defects; extra fields are ignored).

Run a detector (called as `<cmd> FILE...`, JSON on stdout):
    python3 score.py SET_DIR --cmd "python3 baseline_detector.py"
or score saved detector output:
    python3 score.py SET_DIR --pred predictions.json

Detector output: a JSON array, a single object, {"results": [...]}, or JSON Lines,
one record per file:
    {"file": str, "frames": int,
     "defects": [{"kind": str, "start_frame": int, "end_frame": int, "score": float}]}
Files are matched by basename; frames are 0-based, end inclusive.

Metrics (clip level, per kind K):  a clip with a true K defect is a TP if some
predicted K defect overlaps its frame range (+/- --tolerance frames), otherwise an
FN (and, if K was predicted with a non-overlapping range, also an FP); a clip
without a true K defect but with a K prediction is an FP.  Precision/recall/F1 per
kind, macro-F1 = mean F1 over the kinds present in the labels, clean FPR =
fraction of clean clips with any prediction (any kind).  Predictions with
score < --min-score are ignored.  Always exits 0; the last line is
    macroF1=0.xx cleanFPR=0.xx
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

KINDS = ["warp", "melt", "flicker", "teleport", "chromatic_aberration",
         "color_sparks", "texture_bleed", "gravity_violation"]


def parse_output(text):
    """Parse detector stdout into a list of per-file dicts."""
    text = text.strip()
    if not text:
        return []
    try:
        obj = json.loads(text)
        if isinstance(obj, list):
            return [o for o in obj if isinstance(o, dict)]
        if isinstance(obj, dict):
            if isinstance(obj.get("results"), list):
                return [o for o in obj["results"] if isinstance(o, dict)]
            return [obj]
    except json.JSONDecodeError:
        pass
    recs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] not in "[{":
            continue
        try:
            o = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(o, dict):
            recs.append(o)
        elif isinstance(o, list):
            recs += [x for x in o if isinstance(x, dict)]
    return recs


def run_detector(cmd, paths, timeout, batch, log):
    argv = shlex.split(cmd)
    recs = []
    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)] if batch else [paths]
    for b in batches:
        got = _call(argv, b, timeout, log)
        names = {os.path.basename(str(r.get("file", ""))) for r in got}
        missing = [p for p in b if os.path.basename(p) not in names]
        if missing and len(b) > 1:
            log(f"[score] {len(missing)} file(s) missing from batch output; retrying one by one")
            for p in missing:
                got += _call(argv, [p], timeout, log)
        recs += got
    return recs


def _call(argv, files, timeout, log):
    t0 = time.time()
    try:
        cp = subprocess.run(argv + files, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        log(f"[score] detector timed out after {timeout}s on {len(files)} file(s)")
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return parse_output(out)
    except OSError as e:
        log(f"[score] could not run detector: {e}")
        return []
    if cp.returncode != 0:
        log(f"[score] detector exited {cp.returncode}: {cp.stderr.strip()[-500:]}")
    recs = parse_output(cp.stdout)
    if len(files) == 1 and len(recs) == 1 and not recs[0].get("file"):
        recs[0]["file"] = files[0]
    log(f"[score] detector: {len(files)} file(s) in {time.time() - t0:.1f}s")
    return recs


def load_labels(path):
    with open(path) as fh:
        lab = json.load(fh)
    if isinstance(lab, dict):
        lab = lab.get("clips", lab.get("files", []))
    return {e["file"]: e for e in lab}


def overlaps(a0, a1, b0, b1, tol):
    return a0 <= b1 + tol and b0 <= a1 + tol


def evaluate(labels, preds, min_score, tol):
    kinds = [k for k in KINDS if any(d["kind"] == k for e in labels.values() for d in e["defects"])]
    extra = sorted({d["kind"] for e in labels.values() for d in e["defects"]} - set(KINDS))
    kinds += extra
    stats = {k: {"tp": 0, "fp": 0, "fn": 0, "tiou": []} for k in kinds}
    unknown_kinds, n_clean, clean_fp, missing = {}, 0, 0, []
    bad_frames = 0
    any_det = []                          # (is_defective, max score) for AUROC
    for name, e in sorted(labels.items()):
        p = preds.get(name)
        if p is None:
            missing.append(name)
            p = {"defects": []}
        if p.get("frames") not in (None, e.get("frames")):
            bad_frames += 1
        dets = []
        for d in p.get("defects") or []:
            try:
                dd = {"kind": str(d["kind"]), "start_frame": int(d["start_frame"]),
                      "end_frame": int(d["end_frame"]), "score": float(d.get("score", 1.0))}
            except (KeyError, TypeError, ValueError):
                continue
            if dd["score"] >= min_score:
                dets.append(dd)
        for d in dets:
            if d["kind"] not in stats:
                unknown_kinds[d["kind"]] = unknown_kinds.get(d["kind"], 0) + 1
        if e["clean"]:
            n_clean += 1
            clean_fp += bool(dets)
        any_det.append((not e["clean"], max([d["score"] for d in dets], default=float("-inf"))))
        for k in kinds:
            truth = [d for d in e["defects"] if d["kind"] == k]
            pk = [d for d in dets if d["kind"] == k]
            if truth:
                hit = [(t, d) for t in truth for d in pk
                       if overlaps(t["start_frame"], t["end_frame"], d["start_frame"], d["end_frame"], tol)]
                if hit:
                    stats[k]["tp"] += 1
                    t, d = hit[0]
                    inter = min(t["end_frame"], d["end_frame"]) - max(t["start_frame"], d["start_frame"]) + 1
                    union = max(t["end_frame"], d["end_frame"]) - min(t["start_frame"], d["start_frame"]) + 1
                    stats[k]["tiou"].append(max(0, inter) / union)
                else:
                    stats[k]["fn"] += 1
                    if pk:
                        stats[k]["fp"] += 1
            elif pk:
                stats[k]["fp"] += 1
    rows = {}
    for k, s in stats.items():
        tp, fp, fn = s["tp"], s["fp"], s["fn"]
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows[k] = {"tp": tp, "fp": fp, "fn": fn, "precision": prec, "recall": rec, "f1": f1,
                   "mean_tIoU": sum(s["tiou"]) / len(s["tiou"]) if s["tiou"] else None}
    macro = sum(r["f1"] for r in rows.values()) / len(rows) if rows else 0.0
    n_def = sum(1 for d, _ in any_det if d)
    det_hit = sum(1 for d, s in any_det if d and s != float("-inf"))
    return {
        "per_kind": rows, "macro_f1": macro,
        "clean_clips": n_clean, "clean_fp_clips": clean_fp,
        "clean_fpr": clean_fp / n_clean if n_clean else 0.0,
        "defective_clips": n_def,
        "any_defect_recall": det_hit / n_def if n_def else 0.0,
        "any_defect_auroc": auroc(any_det),
        "missing_predictions": missing, "frame_count_mismatches": bad_frames,
        "unknown_kinds": unknown_kinds, "min_score": min_score, "tolerance": tol,
    }


def auroc(pairs):
    """clip-level defective-vs-clean AUROC from the max detection score (none = -inf)"""
    pos = [s for d, s in pairs if d]
    neg = [s for d, s in pairs if not d]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def report(res):
    lines = [f"{'kind':22s} {'TP':>3s} {'FP':>3s} {'FN':>3s}  {'prec':>5s} {'rec':>5s} {'F1':>5s}  tIoU"]
    for k, r in res["per_kind"].items():
        tiou = f"{r['mean_tIoU']:.2f}" if r["mean_tIoU"] is not None else "  -"
        lines.append(f"{k:22s} {r['tp']:3d} {r['fp']:3d} {r['fn']:3d}  {r['precision']:5.2f} "
                     f"{r['recall']:5.2f} {r['f1']:5.2f}  {tiou}")
    lines.append(f"clean clips with any detection: {res['clean_fp_clips']}/{res['clean_clips']}")
    au = res["any_defect_auroc"]
    lines.append(f"defective clips with any detection: {res['any_defect_recall']:.2f}"
                 + (f"   clip-level AUROC (max score): {au:.3f}" if au is not None else ""))
    if res["missing_predictions"]:
        lines.append(f"WARNING: no prediction for {len(res['missing_predictions'])} file(s): "
                     + ", ".join(res["missing_predictions"][:8]))
    if res["frame_count_mismatches"]:
        lines.append(f"WARNING: {res['frame_count_mismatches']} file(s) report a different frame count")
    if res["unknown_kinds"]:
        lines.append(f"note: unknown kinds predicted (ignored in per-kind stats): {res['unknown_kinds']}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", help="directory with the clips and labels.json")
    ap.add_argument("--labels", help="labels file (default SET_DIR/labels.json)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--cmd", help="detector command; the clip paths are appended")
    g.add_argument("--pred", help="saved detector output (JSON array or JSON Lines)")
    ap.add_argument("--batch", type=int, default=0, help="files per detector call (0 = all at once)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per detector call")
    ap.add_argument("--min-score", type=float, default=float("-inf"),
                    help="ignore predictions with a lower score")
    ap.add_argument("--tolerance", type=int, default=0, help="frame slack when matching ranges")
    ap.add_argument("--save-pred", help="write the detector's parsed output here (JSON)")
    ap.add_argument("--json-out", help="write the full metrics here (JSON)")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    log = lambda m: print(m, file=sys.stderr, flush=True)
    try:
        labels = load_labels(args.labels or os.path.join(args.set_dir, "labels.json"))
        if args.cmd:
            paths = [os.path.join(args.set_dir, n) for n in sorted(labels)]
            recs = run_detector(args.cmd, paths, args.timeout, args.batch, log)
        else:
            with open(args.pred) as fh:
                recs = parse_output(fh.read())
        if args.save_pred:
            with open(args.save_pred, "w") as fh:
                json.dump(recs, fh, indent=1)
        preds = {}
        for r in recs:
            n = os.path.basename(str(r.get("file", "")))
            if n in preds:                                  # merge duplicates
                preds[n]["defects"] = list(preds[n].get("defects") or []) + list(r.get("defects") or [])
            else:
                preds[n] = r
        res = evaluate(labels, preds, args.min_score, args.tolerance)
        print(report(res))
        if args.json_out:
            with open(args.json_out, "w") as fh:
                json.dump(res, fh, indent=1)
        print(f"macroF1={res['macro_f1']:.2f} cleanFPR={res['clean_fpr']:.2f}")
    except Exception as e:                                  # always exit 0
        log(f"[score] error: {e!r}")
        print("macroF1=0.00 cleanFPR=nan")
    sys.exit(0)


if __name__ == "__main__":
    main()
