#!/usr/bin/env python3
"""Writes the frame pairs of ../shared/bench/frame_metrics_ref.py to disk so
framebreak-defects' benchmark (benches/metrics.rs) measures speed on the very
same 720p/360p pairs and flow accuracy on the very same known-flow pairs.

Uses the reference script's own functions (load_photos, make_pair, gt_cases and
the cv2.remap construction of run_accuracy), so nothing is re-implemented.

  .work/bench/venv/bin/python crates/defects/scripts/metric-refs-bench.py \
      --ref-dir ../shared/bench --out .work/bench/frames

Layout of --out:
  pairs/<res>_<k>_{a,b}.png            RGB timing pairs (make_pair, seed 1234)
  flow/<res>/<case>/gt.f32             ground-truth flow, u then v planes, f32 LE
  flow/<res>/<case>/<k>_{f1,f2}.png    grey frame1 (warped + maybe noise), frame2
  index.json                           what is where
"""
import argparse
import json
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    # ../shared/bench beside the repository, as on the team's machines and in CI.
    default_ref = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "bench")
    ap.add_argument("--ref-dir", default=os.path.normpath(default_ref))
    ap.add_argument("--out", default=".work/bench/frames")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.ref_dir))
    import cv2
    import frame_metrics_ref as ref

    index = {"pairs": [], "flow": []}
    os.makedirs(os.path.join(args.out, "pairs"), exist_ok=True)
    rng = np.random.default_rng(1234)
    for res, (w, h) in ref.RES.items():
        photos = ref.load_photos(w, h)
        for k, (name, img) in enumerate(photos):
            a, b = ref.make_pair(img, rng)
            pa = os.path.join("pairs", f"{res}_{k}_a.png")
            pb = os.path.join("pairs", f"{res}_{k}_b.png")
            cv2.imwrite(os.path.join(args.out, pa), cv2.cvtColor(a, cv2.COLOR_RGB2BGR))
            cv2.imwrite(os.path.join(args.out, pb), cv2.cvtColor(b, cv2.COLOR_RGB2BGR))
            index["pairs"].append({"res": res, "photo": name, "a": pa, "b": pb})
    for res, (w, h) in ref.RES.items():
        photos = [ref.gray(img) for _, img in ref.load_photos(w, h)]
        xs, ys = ref.grid(h, w)
        for ci, (case, (fx, fy)) in enumerate(ref.gt_cases(w, h).items()):
            for noisy in (False, True):
                if noisy and not case.startswith("translate (2.50"):
                    continue
                label = case + (" + N(0,2) noise" if noisy else "")
                d = os.path.join("flow", res, f"case{ci}{'n' if noisy else ''}")
                os.makedirs(os.path.join(args.out, d), exist_ok=True)
                gt = os.path.join(d, "gt.f32")
                np.concatenate([fx.ravel(), fy.ravel()]).astype("<f4").tofile(
                    os.path.join(args.out, gt))
                frames = []
                for k, I in enumerate(photos):
                    f1 = cv2.remap(I.astype(np.float32), xs + fx, ys + fy, cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REFLECT)
                    if noisy:
                        f1 = f1 + np.random.default_rng(k).normal(0, 2.0, f1.shape).astype(np.float32)
                    f1 = np.clip(np.rint(f1), 0, 255).astype(np.uint8)
                    p1, p2 = os.path.join(d, f"{k}_f1.png"), os.path.join(d, f"{k}_f2.png")
                    cv2.imwrite(os.path.join(args.out, p1), f1)
                    cv2.imwrite(os.path.join(args.out, p2), I)
                    frames.append({"f1": p1, "f2": p2})
                index["flow"].append({"res": res, "case": label, "width": w, "height": h,
                                      "gt": gt, "frames": frames})
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"wrote {len(index['pairs'])} pairs and {len(index['flow'])} flow cases to {args.out}")


if __name__ == "__main__":
    main()
