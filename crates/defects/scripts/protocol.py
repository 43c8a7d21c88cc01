#!/usr/bin/env python3
"""The evaluation protocol of the learned decision model, in one command:

    python3 crates/defects/scripts/protocol.py [--seed 20261210] [--root .work/protocol] \\
        [--clips-scale 1.0] [--no-build] [--install] [--json-out FILE] \\
        [--narrow] [--models foldA,foldB,shipped,hand]

What is held out from what
--------------------------
scripts/corpus.py has two splits that differ twice over: `tune` and `heldout`
film different background families (photographs, textures, procedural
scenes) AND inject different forms of every defect (a held-out form, e.g. a
`pinch` warp or a `slow_sag` melt, is one the tune split never uses). The
protocol is a two-fold cross-evaluation over them:

  fold A  trains and calibrates on tune-split sets, and is measured on
          heldout-split sets: background families and defect forms it never
          saw;
  fold B  the reverse: trains on heldout, is measured on tune.

The fold mean of (A on heldout, B on tune) estimates how the detector does on
footage and defect forms that nothing in its training looked like. That
estimate is the honest number for the shipped model too, which is trained on
everything (both splits, every form) and so has no synthetic test set left.

The training and calibration sets (TRAINING_SETS) also draw their split's
wide forms (corpus.py --wide: random displacement fields, smeared or
slumping sags, blended or dissolving textures, jittered channels, drawn
from wide ranges); the evaluation sets never do, so each fold is still
measured on the other split's named forms only. --narrow leaves them out
(the protocol as it was before 2026-12-08), for comparison.

Real footage (scripts/real_footage.py) is split by source group (one video,
or the videos of one scene or person) into `train` and `test`; no group is in
both. The train groups are split again: `train-cal` (CAL_GROUPS below) only
calibrates the thresholds, `train-fit` (the others) is what the network fits,
both as clean clips and as backgrounds of injected defects (corpus.py --real).
The `test` groups are never trained or calibrated on, by any model here:

  test-real-heldout  heldout-form defects injected into test-group videos:
                     fold A has seen neither the video nor the form;
  test-real-tune     the same for fold B (tune forms);
  <real>/test        clean windows of the test videos: the false-alarm rate on
                     real camera footage, for fold A, fold B and the shipped
                     model alike.

Simulator clips (framebreak-sim's corpus example) are the product's own
footage: every model fits sim-train and calibrates on sim-cal; sim-test is
another range of seeds of the same generator, so it is NOT held out and says
only how the models do on the campaign's own clips.

The hand-written detectors at their own thresholds (`framebreak analyze
--hand-thresholds`) are the baseline; they were tuned on the tune split's
photographs (scripts/eval_make.py), so they are measured on the heldout side.

Why a held-out seed is not held out
-----------------------------------
Every set below has its own seed (S+1 ... S+10), so no clip is in two sets.
But a new seed on the same split only redraws the random choices: the same
photographs and procedural generators, the same cameras, the same defect
forms with the same injectors and the same encoders. A model that has learnt
the tune split's backgrounds or the look of its forms scores on a fresh tune
seed about as well as on its own training set; that number measures
memorisation, not generalisation. So seeds only keep sets apart; the
held-out numbers come from crossing the splits (and the real-footage groups).

What it does
------------
1. Real footage: runs real_footage.py into --real-dir unless its windows.json
   exists, and writes three labelled folders of symlinks to the windows
   (labels.json in score.py's format, every clip clean): train-fit, train-cal
   and test.
2. Sets with corpus.py (through --python, i.e. .work/corpus-venv: see
   corpus-requirements.txt) into <root>/sets/<name>, two at a time; a set is
   reused when its labels.json exists (and refused when its corpus.json says
   it was made with other parameters).
3. Models with the defects crate's train_decisions example into
   <root>/models/<name>.safetensors (its stdout in <name>.log): foldA, foldB
   and shipped; a model newer than the binary and its inputs is kept.
4. Predictions of `framebreak analyze --decisions MODEL` and of
   `framebreak analyze --hand-thresholds`, cached per set and detector in
   <root>/pred/ (redone when the binary, the model or the set changes).
5. Scores with scripts/score.py (the independent evaluation's scorer): per
   evaluation, per-kind precision/recall/F1 and temporal IoU, macro-F1, the
   share of clean clips with any finding, clip AUROC; then a summary table,
   fold means and the targets (macro-F1 >= 0.85, every kind >= 0.70, clean
   false alarms <= 0.05, <= 0.10 on real footage).

With --install the shipped model is copied to
crates/defects/model/decisions.safetensors. --clips-scale shrinks every set
(at least 8 clips) for a quick trial run. Standard library only.
"""

import argparse
import filecmp
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import score  # noqa: E402  (the copy beside this file)
import evaluate  # noqa: E402  (by_file, clean_kinds_found, breakdown)

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# Real-footage train groups that only calibrate (the others are fitted on).
CAL_GROUPS = {"pyfeat-pexels", "opencv-box", "kivy-city", "mecavideo-jbart"}

# name: (split, seed offset, clips, real folder or None)
SETS = {
    "A-train": ("tune", 1, 480, None),
    "A-train-real": ("tune", 2, 160, "train-fit"),
    "A-cal": ("tune", 3, 192, None),
    "B-train": ("heldout", 4, 480, None),
    "B-train-real": ("heldout", 5, 160, "train-fit"),
    "B-cal": ("heldout", 6, 192, None),
    "test-heldout": ("heldout", 7, 160, None),
    "test-tune": ("tune", 8, 160, None),
    "test-real-heldout": ("heldout", 9, 96, "test"),
    "test-real-tune": ("tune", 10, 96, "test"),
    # The simulator's own scenes (framebreak-sim's corpus example): the
    # product's default footage. One generator, so sim-test is NOT held
    # out: it says how the models do on the campaign's own clips.
    "sim-train": ("sim", 0, 400, None),
    "sim-cal": ("sim", 1, 150, None),
    "sim-test": ("sim", 2, 150, None),
}

# The sets a model fits or calibrates on: they also draw corpus.py's wide
# forms (`--wide`, training only: see corpus.py's FORMS) unless --narrow.
# Evaluation sets never do.
TRAINING_SETS = {"A-train", "A-train-real", "A-cal", "B-train", "B-train-real", "B-cal"}

# name: (training folders, calibration folders); "real:X" is <real>/X
MODELS = {
    "foldA": (["A-train", "A-train-real", "sim-train", "real:train-fit"], ["A-cal", "sim-cal", "real:train-cal"]),
    "foldB": (["B-train", "B-train-real", "sim-train", "real:train-fit"], ["B-cal", "sim-cal", "real:train-cal"]),
    "shipped": (["A-train", "A-train-real", "B-train", "B-train-real", "sim-train", "real:train-fit"],
                ["A-cal", "B-cal", "sim-cal", "real:train-cal"]),
}

# (detector, set, what the detector has not seen there)
EVALUATIONS = [
    ("foldA", "test-heldout", "held-out background families and defect forms"),
    ("foldA", "test-real-heldout", "held-out defect forms on real videos never trained on"),
    ("foldA", "real:test", "clean real footage never trained on"),
    ("foldB", "test-tune", "held-out (tune) background families and defect forms"),
    ("foldB", "test-real-tune", "held-out (tune) defect forms on real videos never trained on"),
    ("foldB", "real:test", "clean real footage never trained on"),
    ("shipped", "real:test", "clean real footage never trained on (it saw every form)"),
    ("shipped", "test-real-heldout", "real videos never trained on (forms seen)"),
    ("shipped", "sim-test", "simulator clips of other seeds (in-family: not held out)"),
    ("hand", "sim-test", "simulator clips (the hand thresholds were tuned on this generator)"),
    ("hand", "test-heldout", "families and forms the hand thresholds were not tuned on"),
    ("hand", "test-real-heldout", "held-out forms on real footage"),
    ("hand", "real:test", "clean real footage"),
]

# fold means: (label, evaluation of fold A, evaluation of fold B)
FOLD_MEANS = [
    ("synthetic held-out", ("foldA", "test-heldout"), ("foldB", "test-tune")),
    ("real footage + defects", ("foldA", "test-real-heldout"), ("foldB", "test-real-tune")),
    ("clean real footage", ("foldA", "real:test"), ("foldB", "real:test")),
]

TARGET_MACRO_F1 = 0.85
TARGET_KIND_F1 = 0.70
TARGET_CLEAN_FPR = 0.05
TARGET_CLEAN_FPR_REAL = 0.10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def mtime(path):
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


# ------------------------------------------------------------------ 1. real footage

def real_folders(args):
    """<real>/train-fit, train-cal and test: clean labelled symlinks to the windows."""
    real = args.real_dir
    index = os.path.join(real, "windows.json")
    if not os.path.exists(index):
        cmd = [sys.executable, os.path.join(HERE, "real_footage.py"), "--out", real]
        log("[protocol] " + shlex.join(cmd))
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        if rc != 0:
            log(f"[protocol] real_footage.py exited {rc} (some sources may be missing)")
        if not os.path.exists(index):
            sys.exit(f"[protocol] {index} was not written; no real footage")
    with open(index) as fh:
        windows = json.load(fh)
    train = [w for w in windows if w["split"] == "train"]
    test = [w for w in windows if w["split"] == "test"]
    leak = {w["group"] for w in train} & {w["group"] for w in test}
    if leak:
        sys.exit(f"[protocol] groups in both real-footage splits: {sorted(leak)}")
    missing = CAL_GROUPS - {w["group"] for w in train}
    if missing:
        log(f"[protocol] note: calibration groups without train windows: {sorted(missing)}")
    parts = {
        "train-fit": [w for w in train if w["group"] not in CAL_GROUPS],
        "train-cal": [w for w in train if w["group"] in CAL_GROUPS],
        "test": test,
    }
    for name, ws in parts.items():
        if not ws:
            sys.exit(f"[protocol] real footage: no windows for {name}")
        write_real_folder(real, os.path.join(real, name), ws)
    return {name: os.path.join(real, name) for name in parts}


def write_real_folder(real, folder, windows):
    """Symlinks + labels.json; labels.json is only rewritten when its content differs
    (so the models trained on it stay current)."""
    os.makedirs(folder, exist_ok=True)
    entries, targets = [], {}
    for w in windows:
        name = os.path.basename(w["file"])
        if name in targets:
            sys.exit(f"[protocol] two windows named {name} in {folder}")
        targets[name] = os.path.abspath(os.path.join(real, w["file"]))
        entries.append({"file": name, "clean": True, "frames": w["frames"], "defects": [],
                        "family": "real-" + w["group"], "width": w["width"], "height": w["height"]})
    relinked, changed = 0, False
    for name, target in targets.items():
        link = os.path.join(folder, name)
        if not os.path.exists(target):
            sys.exit(f"[protocol] window {target} is listed in windows.json but missing")
        if os.path.islink(link) or os.path.exists(link):
            if os.path.realpath(link) == os.path.realpath(target):
                continue
            same_bytes = os.path.exists(link) and filecmp.cmp(link, target, shallow=False)
            if same_bytes and not os.path.islink(link):
                continue  # a copy of the window (an older real_footage.py's layout): it matches
            changed |= not same_bytes
            os.remove(link)
        os.symlink(os.path.relpath(target, folder), link)
        relinked += 1
    stray = 0
    for f in os.listdir(folder):
        p = os.path.join(folder, f)
        if f not in targets and os.path.islink(p) and f.endswith(".mp4"):
            os.remove(p)
            stray += 1
    labels_path = os.path.join(folder, "labels.json")
    old = None
    try:
        with open(labels_path) as fh:
            old = json.load(fh)
    except (OSError, ValueError):
        pass
    same = isinstance(old, list) and {e.get("file"): e for e in old if isinstance(e, dict)} == \
        {e["file"]: e for e in entries}
    if not same or changed:  # a clip's content changed: models and predictions are redone
        same = False
        with open(labels_path, "w") as fh:
            json.dump(entries, fh, indent=1)
    groups = sorted({w["group"] for w in windows})
    log(f"[protocol] {folder}: {len(entries)} clean windows from {len(groups)} groups"
        + ("" if same else " (labels.json written)")
        + (f", {relinked} link(s) made" if relinked else "")
        + (f", {stray} stray link(s) removed" if stray else ""))


# ------------------------------------------------------------------------ 2. sets

def set_clips(args, n):
    return max(8, int(round(n * args.clips_scale)))


def set_command(args, name, real):
    split, offset, clips, real_part = SETS[name]
    out = os.path.join(args.root, "sets", name)
    if split == "sim":
        sim_bin = os.path.join(args.bin_dir, "examples", "corpus")
        return out, [sim_bin, "--clips", str(set_clips(args, clips)),
                     "--first-seed", str(offset * 100000 + args.seed % 1000), "--out", out]
    cmd = [args.python_bin, os.path.join(HERE, "corpus.py"), "--split", split,
           "--seed", str(args.seed + offset), "--clips", str(set_clips(args, clips)), "--out", out]
    if real_part:
        cmd += ["--families", "real", "--real", real[real_part]]
    if wide(args, name):
        cmd.append("--wide")
    return out, cmd


def wide(args, name):
    return name in TRAINING_SETS and not args.narrow


def check_set(args, name, out, real):
    """A finished set made with these parameters (exit when made with others)."""
    if not os.path.exists(os.path.join(out, "labels.json")):
        return False
    split, offset, clips, real_part = SETS[name]
    try:
        with open(os.path.join(out, "corpus.json")) as fh:
            made = json.load(fh)
    except (OSError, ValueError):
        log(f"[protocol] note: {out} has no corpus.json; reused as it is")
        return True
    want = {"seed": args.seed + offset, "clips": set_clips(args, clips), "split": split,
            "families": "real" if real_part else None, "wide": wide(args, name)}
    got = {k: made.get(k) for k in want}
    got["wide"] = bool(got["wide"])  # sets made before --wide existed had none
    if real_part:
        want["real"] = os.path.realpath(real[real_part])
        got["real"] = os.path.realpath(made["real"]) if made.get("real") else None
    if got != want:
        sys.exit(f"[protocol] {out} was made with {got}, this run wants {want}: "
                 "remove it or choose another --root")
    return True


def make_sets(args, real):
    os.makedirs(os.path.join(args.root, "sets"), exist_ok=True)
    todo, dirs = [], {}
    for name in SETS:
        out, cmd = set_command(args, name, real)
        dirs[name] = out
        if not check_set(args, name, out, real):
            todo.append((name, out, cmd))
    running, failed = [], []
    while todo or running:
        while todo and len(running) < args.jobs:
            name, out, cmd = todo.pop(0)
            log_path = out + ".log"
            log(f"[protocol] set {name}: " + shlex.join(cmd) + f"  (log {log_path})")
            fh = open(log_path, "w")
            running.append((name, subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT),
                            fh, time.time(), log_path))
        time.sleep(1)
        for item in list(running):
            name, proc, fh, t0, log_path = item
            if proc.poll() is None:
                continue
            running.remove(item)
            fh.close()
            if proc.returncode != 0 or not os.path.exists(os.path.join(dirs[name], "labels.json")):
                with open(log_path) as lf:
                    tail = lf.read()[-1500:]
                log(f"[protocol] set {name} FAILED (exit {proc.returncode}):\n{tail}")
                failed.append(name)
            else:
                log(f"[protocol] set {name} made in {time.time() - t0:.0f}s")
    if failed:
        sys.exit(f"[protocol] sets not made: {', '.join(failed)}")
    for name, out in dirs.items():
        with open(os.path.join(out, "labels.json")) as fh:
            lab = json.load(fh)
        log(f"[protocol] {name}: {len(lab)} clips ({sum(e['clean'] for e in lab)} clean) in {out}")
    return dirs


# ---------------------------------------------------------------------- 3. models

def folder(spec, dirs, real):
    return real[spec[5:]] if spec.startswith("real:") else dirs[spec]


def train_models(args, dirs, real):
    os.makedirs(os.path.join(args.root, "models"), exist_ok=True)
    paths = {}
    for name, (train, cal) in MODELS.items():
        if name not in args.models:
            continue
        out = os.path.join(args.root, "models", name + ".safetensors")
        paths[name] = out
        tr = [folder(s, dirs, real) for s in train]
        ca = [folder(s, dirs, real) for s in cal]
        cmd = [args.train_bin, "--train", ",".join(tr), "--calibrate", ",".join(ca),
               "--seed", str(args.seed), "--out", out]
        side = out + ".cmd.json"
        inputs = [args.train_bin] + [os.path.join(d, "labels.json") for d in tr + ca]
        t_model = mtime(out)
        try:
            with open(side) as fh:
                same_cmd = json.load(fh) == cmd
        except (OSError, ValueError):
            same_cmd = False
        if t_model is not None and same_cmd and all((mtime(p) or 0) < t_model for p in inputs):
            log(f"[protocol] model {name}: {out} is current")
            continue
        log(f"[protocol] model {name}: " + shlex.join(cmd) + f"  (stdout in {out[:-12]}.log)")
        t0 = time.time()
        with open(os.path.join(args.root, "models", name + ".log"), "w") as fh:
            rc = subprocess.run(cmd, stdout=fh, cwd=ROOT).returncode
        if rc != 0 or not os.path.exists(out):
            sys.exit(f"[protocol] train_decisions failed for {name} (exit {rc})")
        with open(side, "w") as fh:
            json.dump(cmd, fh)
        log(f"[protocol] model {name} trained in {time.time() - t0:.0f}s")
    for name in paths:
        with open(os.path.join(args.root, "models", name + ".log")) as fh:
            print(f"\n--- {name}: calibration (train_decisions) ---\n" + fh.read().rstrip())
    return paths


# -------------------------------------------------------------- 4. predictions

def predictions(args, set_name, set_dir, labels, detector, model):
    """Records of `framebreak analyze` over every clip of the set, cached under <root>/pred."""
    os.makedirs(os.path.join(args.root, "pred"), exist_ok=True)
    cache = os.path.join(args.root, "pred", f"{set_name.replace(':', '-')}--{detector}.json")
    stamp = {"binary": mtime(args.bin), "model": mtime(model) if model else None,
             "labels": mtime(os.path.join(set_dir, "labels.json")), "set_dir": set_dir,
             "files": sorted(labels)}
    if os.path.exists(cache) and not args.rerun:
        try:
            with open(cache) as fh:
                saved = json.load(fh)
            if saved.get("stamp") == stamp:
                return saved["records"], saved["seconds"]
        except (OSError, ValueError):
            pass
    argv = [args.bin, "analyze"] + (["--decisions", model] if model else ["--hand-thresholds"])
    paths = [os.path.join(set_dir, n) for n in sorted(labels)]
    log(f"[protocol] {detector} on {set_name}: {len(paths)} clips")
    t0 = time.time()
    said = []

    def note(msg):
        said.append(msg)
        log(msg)
    recs = score.run_detector(shlex.join(argv), paths, args.timeout, args.batch, note)
    seconds = time.time() - t0
    got = {os.path.basename(str(r.get("file", ""))) for r in recs}
    missing = [n for n in labels if n not in got]
    if len(missing) == len(labels):
        errors = [m for m in said if "exited" in m or "could not" in m or "timed out" in m]
        sys.exit(f"[protocol] {shlex.join(argv)} gave no result for any clip of {set_dir}"
                 + (f"; last error: {errors[-1]}" if errors else ""))
    if missing:  # scored as clips without findings, and not cached
        log(f"[protocol] WARNING: {detector} gave no result for {len(missing)} clip(s) of {set_name}")
    else:
        with open(cache, "w") as fh:
            json.dump({"stamp": stamp, "seconds": seconds, "records": recs}, fh)
    return recs, seconds


# ------------------------------------------------------------------ 5. scoring

def is_real(set_name):
    return set_name.startswith("real:") or set_name.startswith("test-real")


def summary_row(res, real_footage):
    """macro-F1, (min kind, its F1), clean FPR, AUROC, and the targets missed."""
    kinds = {k: r["f1"] for k, r in res["per_kind"].items()}
    macro = res["macro_f1"] if kinds else None
    worst = min(kinds.items(), key=lambda kv: kv[1]) if kinds else None
    fpr_target = TARGET_CLEAN_FPR_REAL if real_footage else TARGET_CLEAN_FPR
    missed = []
    if macro is not None and macro < TARGET_MACRO_F1:
        missed.append(f"macro-F1<{TARGET_MACRO_F1:.2f}")
    low = [k for k, f in kinds.items() if f < TARGET_KIND_F1]
    if low:
        missed.append(f"kind F1<{TARGET_KIND_F1:.2f}: " + ",".join(low))
    if res["clean_clips"] and res["clean_fpr"] > fpr_target:
        missed.append(f"clean FPR>{fpr_target:.2f}")
    return {"macro_f1": macro, "min_kind": worst[0] if worst else None,
            "min_kind_f1": worst[1] if worst else None, "clean_fpr": res["clean_fpr"] if res["clean_clips"] else None,
            "auroc": res["any_defect_auroc"], "clean_fpr_target": fpr_target,
            "meets_targets": not missed, "missed": missed}


def fold_mean(a, b, real_footage):
    """Mean of two evaluations: per-kind F1 and every summary figure."""
    kinds = {}
    for res in (a, b):
        for k, r in res["per_kind"].items():
            kinds.setdefault(k, []).append(r["f1"])
    per_kind = {k: sum(v) / len(v) for k, v in kinds.items()}

    def mean(key):
        vals = [r[key] for r in (a, b) if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None
    fake = {"per_kind": {k: {"f1": f} for k, f in per_kind.items()},
            "macro_f1": mean("macro_f1") if per_kind else 0.0,
            "clean_clips": a["clean_clips"] + b["clean_clips"],
            "clean_fpr": mean("clean_fpr"), "any_defect_auroc": mean("any_defect_auroc")}
    row = summary_row(fake, real_footage)
    row["per_kind_f1"] = per_kind
    return row


def finite(obj):
    """obj with every infinite or NaN float as None (strict JSON)."""
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def fmt(x, width=6, digits=2):
    return f"{'-':>{width}s}" if x is None else f"{x:{width}.{digits}f}"


def print_table(rows, title):
    print(f"\n=== {title} ===")
    print(f"{'detector':9s} {'set':22s} {'macroF1':>7s} {'min kind F1':>24s} {'cleanFPR':>8s} {'AUROC':>6s}  targets")
    for det, set_name, r in rows:
        mk = f"{r['min_kind']} {r['min_kind_f1']:.2f}" if r["min_kind"] else "-"
        fpr = fmt(r["clean_fpr"], 8)
        mark = "ok" if r["meets_targets"] else "MISSED " + "; ".join(r["missed"])
        print(f"{det:9s} {set_name:22s} {fmt(r['macro_f1'], 7)} {mk:>24s} {fpr} {fmt(r['auroc'], 6, 3)}  {mark}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20261210, help="S: sets use S+1..S+10, training S")
    ap.add_argument("--root", default=os.path.join(ROOT, ".work", "protocol"),
                    help="sets, models and predictions go here (default .work/protocol)")
    ap.add_argument("--real-dir", default=os.path.join(ROOT, ".work", "real-footage"),
                    help="scripts/real_footage.py's output folder (default .work/real-footage)")
    ap.add_argument("--clips-scale", type=float, default=1.0,
                    help="multiplies every set's clip count (at least 8 clips a set)")
    ap.add_argument("--python", default=os.path.join(ROOT, ".work", "corpus-venv", "bin", "python"),
                    help="Python with corpus-requirements.txt installed (makes the sets; "
                    "falls back to this Python when missing)")
    ap.add_argument("--jobs", type=int, default=2, help="sets made at once (default 2)")
    ap.add_argument("--no-build", action="store_true",
                    help="use target/release/framebreak and target/release/examples/train_decisions as they are")
    ap.add_argument("--install", action="store_true",
                    help="copy the shipped model to crates/defects/model/decisions.safetensors")
    ap.add_argument("--batch", type=int, default=16, help="clips per detector call")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per detector call")
    ap.add_argument("--min-score", type=float, default=float("-inf"))
    ap.add_argument("--tolerance", type=int, default=0)
    ap.add_argument("--rerun", action="store_true", help="ignore cached predictions")
    ap.add_argument("--json-out", help="write every result here (JSON)")
    ap.add_argument("--bin-dir", help="framebreak and examples/{train_decisions,corpus} from here, "
                    "as they are (implies --no-build; default target/release, built first)")
    ap.add_argument("--narrow", action="store_true",
                    help="training sets without corpus.py's wide forms (the protocol before 2026-12-08)")
    ap.add_argument("--models", default=",".join(list(MODELS) + ["hand"]),
                    help="comma-separated detectors to train and measure (default: foldA,foldB,shipped,hand)")
    args = ap.parse_args()
    args.models = args.models.split(",")
    for m in args.models:
        if m not in MODELS and m != "hand":
            sys.exit(f"[protocol] unknown model {m!r}; known: {', '.join(list(MODELS) + ['hand'])}")
    if args.install and "shipped" not in args.models:
        sys.exit("[protocol] --install needs the shipped model (--models ...,shipped)")
    sys.stdout.reconfigure(line_buffering=True)
    args.root = os.path.abspath(args.root)
    args.real_dir = os.path.abspath(args.real_dir)
    args.python_bin = args.python if os.path.exists(args.python) else sys.executable
    if args.python_bin != args.python:
        log(f"[protocol] {args.python} is missing; making sets with {sys.executable}")
    build = not args.no_build and not args.bin_dir
    args.bin_dir = os.path.abspath(args.bin_dir or os.path.join(ROOT, "target", "release"))
    args.bin = os.path.join(args.bin_dir, "framebreak")
    args.train_bin = os.path.join(args.bin_dir, "examples", "train_decisions")
    t_start = time.time()

    if build:
        for cmd in (["cargo", "build", "--release", "-p", "framebreak-cli"],
                    ["cargo", "build", "--release", "-p", "framebreak-defects", "--example", "train_decisions"],
                    ["cargo", "build", "--release", "-p", "framebreak-sim", "--example", "corpus"]):
            log("[protocol] " + shlex.join(cmd))
            subprocess.run(cmd, cwd=ROOT, check=True)
    for b in (args.bin, args.train_bin):
        if not os.path.exists(b):
            sys.exit(f"[protocol] {b} is missing (run without --no-build)")

    real = real_folders(args)
    dirs = make_sets(args, real)
    models = train_models(args, dirs, real)
    models["hand"] = None

    results, rows = {}, []
    for det, set_name, unseen in EVALUATIONS:
        if det not in args.models:
            continue
        set_dir = folder(set_name, dirs, real)
        labels = score.load_labels(os.path.join(set_dir, "labels.json"))
        recs, seconds = predictions(args, set_name, set_dir, labels, det, models[det])
        preds = evaluate.by_file(recs)
        res = score.evaluate(labels, preds, args.min_score, args.tolerance)
        res["detector_seconds"] = seconds
        row = summary_row(res, is_real(set_name))
        results[f"{det}/{set_name}"] = {"detector": det, "model": models[det], "set": set_name,
                                        "set_dir": set_dir, "clips": len(labels), "unseen": unseen,
                                        "result": res, "summary": row}
        rows.append((det, set_name, row))
        shown = set_name.replace("real:", "real/")
        print(f"\n=== {det} on {shown}: {len(labels)} clips ({sum(e['clean'] for e in labels.values())} clean), "
              f"{set_dir}; unseen: {unseen}; detector {seconds:.0f}s ===")
        print(score.report(res))
        au = res["any_defect_auroc"]
        print(f"macroF1={res['macro_f1']:.2f} cleanFPR={res['clean_fpr']:.2f} "
              f"AUROC={'nan' if au is None else f'{au:.3f}'}")
        print(f"kinds found on clean clips (clips): {evaluate.clean_kinds_found(labels, preds, args)}")
        # corpus sets by defect form; the clean real windows by source group
        print(evaluate.breakdown(labels, preds, "family" if set_name.startswith("real:") else "form", args))

    print_table([(d, s.replace("real:", "real/"), r) for d, s, r in rows], "summary")
    means = {}
    mean_rows = []
    for label, ka, kb in FOLD_MEANS:
        if f"{ka[0]}/{ka[1]}" not in results or f"{kb[0]}/{kb[1]}" not in results:
            continue
        a, b = results[f"{ka[0]}/{ka[1]}"], results[f"{kb[0]}/{kb[1]}"]
        m = fold_mean(a["result"], b["result"], is_real(ka[1]))
        m["of"] = [f"{ka[0]}/{ka[1]}", f"{kb[0]}/{kb[1]}"]
        means[label] = m
        mean_rows.append(("A+B mean", label, m))
    print_table(mean_rows, "fold means (A on heldout, B on tune)")
    for label, m in means.items():
        if m["per_kind_f1"]:
            print(f"  {label}: per-kind F1 " + ", ".join(f"{k} {f:.2f}" for k, f in m["per_kind_f1"].items()))
    print(f"targets: macro-F1 >= {TARGET_MACRO_F1:.2f}, every kind >= {TARGET_KIND_F1:.2f}, "
          f"clean FPR <= {TARGET_CLEAN_FPR:.2f} (<= {TARGET_CLEAN_FPR_REAL:.2f} on real footage)")

    if args.install:
        dest = os.path.join(ROOT, "crates", "defects", "model", "decisions.safetensors")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(models["shipped"], dest)
        log(f"[protocol] installed {models['shipped']} as {dest}")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(finite({"seed": args.seed, "root": args.root, "real_dir": args.real_dir,
                       "clips_scale": args.clips_scale, "narrow": args.narrow, "min_score": args.min_score, "tolerance": args.tolerance,
                       "binary": args.bin, "binary_mtime": mtime(args.bin),
                       "sets": {n: {"dir": d, "split": SETS[n][0], "seed": args.seed + SETS[n][1],
                                    "clips": set_clips(args, SETS[n][2]), "wide": wide(args, n)}
                                for n, d in dirs.items()},
                       "real": real,
                       "models": {n: {"path": p, "train": MODELS[n][0], "calibrate": MODELS[n][1]}
                                  for n, p in models.items() if p},
                       "targets": {"macro_f1": TARGET_MACRO_F1, "kind_f1": TARGET_KIND_F1,
                                   "clean_fpr": TARGET_CLEAN_FPR, "clean_fpr_real": TARGET_CLEAN_FPR_REAL},
                       "evaluations": results, "fold_means": means,
                       "installed": bool(args.install), "seconds": time.time() - t_start}),
                      fh, indent=1, allow_nan=False)
        log(f"[protocol] wrote {args.json_out}")
    log(f"[protocol] done in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
