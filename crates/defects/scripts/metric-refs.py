#!/usr/bin/env python3
"""Reference PSNR / SSIM values for framebreak-defects' metric tests.

Crops 128x128 pieces of photographs that ship with scikit-image, makes
distorted copies (sub-pixel shift, noise, blur, tone change), writes them as
RGB PNGs to tests/data/metrics/ (with a 256x192 grey crop, flow_photo.png,
for the flow tests), and writes expected.json with the values
scikit-image computes:

  psnr_rgb   peak_signal_noise_ratio(a, b, data_range=255) on the RGB arrays
  ssim_rgb   structural_similarity(gaussian_weights=True, sigma=1.5,
             use_sample_covariance=False, data_range=255) per channel (R, G, B)
  ssim_luma  the same on BT.601 luma 0.299 R + 0.587 G + 0.114 B (float64)

Run from the repository root with the bench venv (see crates/defects/README.md):

  .work/bench/venv/bin/python crates/defects/scripts/metric-refs.py
"""
import json
import os

import numpy as np
import scipy
import skimage
from scipy import ndimage
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "metrics")
SIZE = 128
# (image, top-left corner of the crop): busy regions, not flat sky.
CROPS = [("astronaut", (60, 150)), ("camera", (80, 200)), ("coffee", (100, 200)),
         ("chelsea", (80, 120))]


def rgb(im):
    return np.stack([im] * 3, axis=-1) if im.ndim == 2 else im


def to_u8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def variants(a, rng):
    f = a.astype(np.float64)
    shifted = np.stack([ndimage.shift(f[..., c], (0.25, -0.5), order=3, mode="reflect")
                        for c in range(3)], axis=-1)
    noisy = f + rng.normal(0, 6.0, f.shape)
    blurred = np.stack([ndimage.gaussian_filter(f[..., c], 1.2, mode="reflect")
                        for c in range(3)], axis=-1)
    toned = 0.85 * f + 20.0
    return {"shift": to_u8(shifted), "noise": to_u8(noisy), "blur": to_u8(blurred),
            "tone": to_u8(toned)}


def ssim(a, b):
    return float(structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=255))


def luma(x):
    x = x.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def write_png(path, arr):
    skimage.io.imsave(path, arr, check_contrast=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20260401)
    pairs = []
    for name, (y0, x0) in CROPS:
        a = np.ascontiguousarray(rgb(getattr(skdata, name)())[y0:y0 + SIZE, x0:x0 + SIZE])
        base = f"{name}.png"
        write_png(os.path.join(OUT, base), a)
        for kind, b in variants(a, rng).items():
            other = f"{name}_{kind}.png"
            write_png(os.path.join(OUT, other), b)
            pairs.append({
                "a": base, "b": other,
                "psnr_rgb": float(peak_signal_noise_ratio(a, b, data_range=255)),
                "ssim_rgb": [ssim(a[..., c], b[..., c]) for c in range(3)],
                "ssim_luma": ssim(luma(a), luma(b)),
            })
    # A larger grey photograph for the flow tests, which warp it with known
    # flows in Rust (tests/metrics_flow.rs).
    grey = to_u8(luma(rgb(skdata.astronaut())[20:212, 140:396]))
    write_png(os.path.join(OUT, "flow_photo.png"), grey)
    doc = {
        "generator": "crates/defects/scripts/metric-refs.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                     "scikit-image": skimage.__version__},
        "pairs": pairs,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for p in pairs:
        print(p["b"], round(p["psnr_rgb"], 6), [round(s, 6) for s in p["ssim_rgb"]],
              round(p["ssim_luma"], 6))


if __name__ == "__main__":
    main()
