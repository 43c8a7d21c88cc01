#!/usr/bin/env python3
"""Builds a broad, labelled corpus of short videos for measuring framebreak's
defect detectors on footage they were not tuned on.

    python3 -m venv .work/corpus-venv
    .work/corpus-venv/bin/pip install -r crates/defects/scripts/corpus-requirements.txt
    .work/corpus-venv/bin/python crates/defects/scripts/corpus.py \\
        --split heldout --seed 20261206 --clips 128 --out .work/corpus/heldout

Each clip films a background (a photograph bundled with scikit-image, a
procedural texture, or a flat-ish scene of shapes) with a moving camera
(static, pan, zoom, rotate, hand-held shake, or a mix), carries at most one
injected defect, and is encoded the way videos arrive: H.264 through the
`ffmpeg` binary at CRF 18-32, or GIF through an ffmpeg palette; 256x192 to
480x270, 24-30 fps, 32-64 frames. Clean clips carry hard negatives: thrown,
dropped and bouncing balls, sliding and fast blurred objects, a walking stick
figure, waving bands, occlusion, exposure and focus ramps, shot cuts,
cross-fades and sensor noise.

The two splits are disjoint twice over: `tune` and `heldout` film different
background families AND inject different forms of each defect (a held-out
form is one the tune split never uses; see FAMILIES and FORMS below), so a
detector tuned on one split is measured on the other. `--wide` adds, for
training sets only, each split's wide forms of warp, melt, chromatic
aberration and texture bleed (FORMS' `_wide` lists): random displacement
fields, sags anchored or smeared at 0.2-6 px a frame, blobs and tiles of
another texture fading or switching in, channels jittered one way each;
durations, sizes and rates drawn wider than any named form. The two
splits' wide forms are different code, and no evaluation set has them.
The output folder
holds the clips and `labels.json` in the format of `scripts/score.py`
({"file", "clean", "frames", "defects": [{"kind", "start_frame",
"end_frame", "bbox"}]}), with extra fields the scorer ignores: `family`,
`background`, `form`, `camera`, `encoding`, `fps`, `width`, `height`,
`split`. Frames are 0-based, end inclusive; a defect's range covers the
frames where it is visibly happening (a sag while it moves, a jump's two
frames). A warp, melt or bleed that changes too little detail to be seen
(a sag of a smooth gradient is still a smooth gradient; see REMAPS) is
drawn again rather than labelled: a label nobody could see teaches and
scores noise. Output is deterministic for a given seed, clip count and filters
(and the same ffmpeg build).

Real footage: `--real DIR` (a folder of clean windows with a labels.json,
as scripts/real_footage.py cuts them) makes the family `real` available:
its clips take their frames from a window of real video instead of a
filmed world. The footage's own camera is the camera: the injectors work
in screen coordinates on the real frame of each time (a warp, melt or bleed
remaps frame t; a teleport or gravity sprite moves over the footage; flicker,
fringes and sparks sit on top). A window is cropped to the drawn output size's
aspect and scaled to it, or, where that would enlarge it more than 1.25x, to a
smaller size or its own size; the clip runs at the window's frame rate for
min(drawn T, window length) frames. `background` is the window's file name,
`real_source` its labels' family, `camera` is "footage". With --real and no
--families, `real` joins the split's families; without --real nothing changes.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
from skimage import data

KINDS = ["warp", "melt", "flicker", "teleport", "chromatic_aberration",
         "color_sparks", "texture_bleed", "gravity_violation"]

# Background families. The tune split's photographs are the ones
# scripts/eval_make.py tuned the detectors on; the held-out ones were only
# ever its test split, or are new.
FAMILIES = {
    "photo-portrait": ("tune", ["astronaut", "coffee", "chelsea", "rocket"]),
    "photo-gray": ("tune", ["camera", "moon", "clock", "cell", "page", "text"]),
    "proc-noise": ("tune", ["fbm", "cells"]),
    "proc-stripes": ("tune", ["stripes", "gradient"]),
    "photo-science": ("heldout", ["hubble_deep_field", "immunohistochemistry", "retina", "motorcycle", "coins"]),
    "photo-texture": ("heldout", ["brick", "grass", "gravel"]),
    "proc-checker": ("heldout", ["checker", "plaid"]),
    "synthetic-shapes": ("heldout", ["shapes"]),
}

# Forms of each defect, and of the clean clips' hard negatives.
FORMS = {
    "warp": {"tune": ["swirl", "bulge"], "heldout": ["pinch", "ripple"],
             "tune_wide": ["field"], "heldout_wide": ["shear"]},
    "melt": {"tune": ["fast_sag", "drip"], "heldout": ["slow_sag"],
             "tune_wide": ["smear"], "heldout_wide": ["slump"]},
    "flicker": {"tune": ["global", "regional"], "heldout": ["single_frame"]},
    "teleport": {"tune": ["jump"], "heldout": ["swap"]},
    "chromatic_aberration": {"tune": ["global_shift", "regional_shift"], "heldout": ["radial_growth"],
                             "tune_wide": ["jitter"], "heldout_wide": ["one_channel"]},
    "color_sparks": {"tune": ["burst", "sparse_green"], "heldout": ["single_specks"]},
    "texture_bleed": {"tune": ["creep", "spread"], "heldout": ["fade_in"],
                      "tune_wide": ["blend"], "heldout_wide": ["dissolve"]},
    "gravity_violation": {"tune": ["upward_accel", "hover"], "heldout": ["reversal"]},
    "clean": {"tune": ["camera_only", "thrown_ball", "sliding_object", "stick_figure",
                       "exposure_ramp", "shot_cut", "sensor_noise"],
              "heldout": ["camera_only", "dropped_ball", "fast_blur", "occlusion",
                          "waving_bands", "defocus_ramp", "cross_fade"]},
}
# `<split>_wide` forms are for training sets only (`--wide`): each draws its
# defect from much wider ranges (amplitude, rate, duration, shape) than the
# named forms, by code of its own, so that a model meets more than one or two
# shapes of each kind. They are never in an evaluation set, and the two
# splits' wide forms differ from each other and from every named form, so
# the held-out forms stay held out.

CAMERAS = ["static", "pan", "zoom", "rotate", "shake", "mix"]
SIZES = [(256, 192), (320, 240), (384, 216), (480, 270)]
GIF_SIZES = [(256, 192), (320, 240)]
FPS = [24, 25, 30]
# Of every 12 clips, 4 are clean: about a third, as in the independent set.
ROTATION = KINDS + ["clean"] * 4


# ---------------------------------------------------------------- backgrounds

def _photo(name):
    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3].astype(np.float32)


def _fbm(rng, h, w, octaves=5, base=4):
    """Perlin-like fractal noise in [0, 1]: random grids upsampled bicubically, 1/f weights."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2 ** o
        g = rng.random((n + 3, int(n * w / h) + 3)).astype(np.float32)
        up = cv2.resize(g, (w + 2 * w // n, h + 2 * h // n), interpolation=cv2.INTER_CUBIC)
        out += amp * up[h // n:h // n + h, w // n:w // n + w]
        total += amp
        amp *= rng.uniform(0.45, 0.65)
    out /= total
    return (out - out.min()) / max(float(np.ptp(out)), 1e-6)


def _palette(rng, field, n=3):
    """Maps a [0, 1] field through a random colour ramp of n stops."""
    stops = rng.uniform(0, 255, (n, 3)).astype(np.float32)
    pos = np.linspace(0, 1, n)
    return np.stack([np.interp(field, pos, stops[:, c]) for c in range(3)], -1).astype(np.float32)


def _procedural(rng, name, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = (_fbm(rng, h, w, 3, 16) - 0.5)[..., None] * rng.uniform(10, 30)
    if name == "fbm":
        img = _palette(rng, _fbm(rng, h, w, int(rng.integers(4, 7)), int(rng.integers(2, 6))), 4)
        return img + grain * 0.5
    if name == "cells":  # blotchy, Worley-like: distance to random seeds
        pts = rng.uniform(0, 1, (int(rng.integers(30, 90)), 2)) * [w, h]
        d = np.full((h, w), 1e9, np.float32)
        for px, py in pts:
            d = np.minimum(d, (xx - px) ** 2 + (yy - py) ** 2)
        f = np.sqrt(d)
        return _palette(rng, f / f.max(), 3) + grain
    if name in ("stripes", "gradient"):
        ang = rng.uniform(0, math.pi)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        ramp = _palette(rng, (u - u.min()) / np.ptp(u), 2)
        if name == "gradient":  # a gradient with soft large blotches, a little grain
            return ramp * 0.7 + _palette(rng, _fbm(rng, h, w, 3, 2), 2) * 0.3 + grain
        period = rng.uniform(6, 40)
        s = np.sin(2 * math.pi * u / period)
        if rng.random() < 0.5:
            s = np.tanh(4 * s)
        col = rng.uniform(-90, 90, 3).astype(np.float32)
        return ramp + s[..., None] * col * 0.5 + grain
    if name in ("checker", "plaid"):
        ang = rng.uniform(0, math.pi / 2)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        v = -xx * math.sin(ang) + yy * math.cos(ang)
        cell = rng.uniform(8, 48)
        if name == "checker":
            f = ((np.floor(u / cell) + np.floor(v / cell)) % 2).astype(np.float32)
            f = cv2.GaussianBlur(f, (0, 0), 0.7)
        else:
            f = 0.5 + 0.25 * np.sin(2 * math.pi * u / cell) + 0.25 * np.sin(2 * math.pi * v / (cell * rng.uniform(0.4, 1.6)))
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = (a * (1 - f[..., None]) + b * f[..., None]).astype(np.float32)
        return img * rng.uniform(0.7, 1.0) + _palette(rng, _fbm(rng, h, w, 2, 2), 2) * 0.25 + grain * 0.5
    if name == "shapes":  # sky over ground, flat shapes, faint grain
        horizon = int(h * rng.uniform(0.35, 0.7))
        img = np.zeros((h, w, 3), np.float32)
        img[:horizon] = _palette(rng, (yy[:horizon] / horizon), 2)
        img[horizon:] = _palette(rng, _fbm(rng, h - horizon, w, 3, 3), 2)
        for _ in range(int(rng.integers(20, 50))):
            col = tuple(float(c) for c in rng.uniform(0, 255, 3))
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            s = int(rng.integers(6, max(8, h // 6)))
            k = rng.integers(4)
            if k == 0:
                cv2.rectangle(img, (cx, cy), (cx + s, cy + int(s * rng.uniform(0.3, 2))), col, -1, cv2.LINE_AA)
            elif k == 1:
                cv2.circle(img, (cx, cy), s // 2, col, -1, cv2.LINE_AA)
            elif k == 2:
                cv2.ellipse(img, (cx, cy), (s, max(2, s // 3)), float(rng.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
            else:
                pts = (rng.uniform(-s, s, (int(rng.integers(3, 7)), 2)) + [cx, cy]).astype(np.int32)
                cv2.fillPoly(img, [pts], col, cv2.LINE_AA)
        return img + grain * 0.3
    raise ValueError(name)


def background(rng, family, W, H):
    """A world at least 1.8x the view each way, float32 RGB: (image, name)."""
    names = FAMILIES[family][1]
    name = names[int(rng.integers(len(names)))]
    if family.startswith("photo"):
        img = _photo(name)
        if family == "photo-gray" and rng.random() < 0.5:  # a tinted print now and then
            img = img * rng.uniform(0.75, 1.0, 3).astype(np.float32)
        scale = max(1.8 * W / img.shape[1], 1.8 * H / img.shape[0])
        img = cv2.resize(img, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    else:
        img = _procedural(rng, name, int(1.9 * H), int(1.9 * W))
    return np.clip(img, 0, 255).astype(np.float32), name


# Windows of real footage (--real): a list of labels.json entries with "path".
REAL_WINDOWS = []
REAL_MAX_UPSCALE = 1.25
# Mean absolute gray gradient (0-255 a pixel) below which a remap or a colour
# fringe does not visibly change real footage (a fish tank's empty water, a wall).
REAL_MIN_TEXTURE = 3.0
# Kinds that move or replace the scene's own pixels, and the least change of
# detail (95th percentile inside the defect's box, on its strongest frame, of
# the change in grey levels minus their local mean; see `detail`) that counts
# as visible; below it the clip is drawn again.
REMAPS = ("warp", "melt", "texture_bleed")
MIN_VISIBLE_CHANGE = 3.0


def load_real_windows(folder):
    with open(os.path.join(folder, "labels.json")) as fh:
        entries = json.load(fh)
    windows = []
    for e in sorted(entries, key=lambda e: e["file"]):
        path = os.path.join(folder, e["file"])
        if os.path.exists(path) and e.get("clean", True) and not e.get("defects"):
            windows.append(dict(e, path=path))
    if not windows:
        sys.exit(f"--real {folder}: no clean windows listed in its labels.json")
    return windows


def _probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=width,height,r_frame_rate,avg_frame_rate,nb_read_packets",
                          "-of", "json", path], capture_output=True, check=True).stdout
    st = json.loads(out)["streams"][0]

    def ratio(text):
        a, _, b = text.partition("/")
        try:
            return float(a) / float(b or 1)
        except (ValueError, ZeroDivisionError):
            return 0.0
    fps = ratio(st.get("avg_frame_rate", "0/0"))
    if not 5.0 <= fps <= 60.0:
        fps = ratio(st.get("r_frame_rate", "0/0"))
    if not 5.0 <= fps <= 60.0:
        fps = 25.0
    return int(st["width"]), int(st["height"]), fps, int(st.get("nb_read_packets", 0) or 0)


def decode_frames(path, T):
    """The first T frames of a video as uint8 RGB arrays, and its frame rate."""
    w, h, fps, _n = _probe(path)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-frames:v", str(T),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-threads", "1", "-"],
                         capture_output=True, check=True).stdout
    n = len(raw) // (w * h * 3)
    if n == 0:
        raise RuntimeError(f"{path}: no frames decoded")
    arr = np.frombuffer(raw[:n * w * h * 3], np.uint8).reshape(n, h, w, 3)
    return arr, fps


def _crop_box(rng, sw, sh, W, H, max_up):
    """A crop of the source of aspect W:H, zoomed in a little at random: (x, y, w, h)."""
    cw, ch = (sw, sw * H / W) if sw * H / W <= sh else (sh * W / H, sh)
    z = rng.uniform(0.8, 1.0)
    z = max(z, min(1.0, W / (max_up * cw)))  # no more than max_up enlargement
    cw, ch = cw * z, ch * z
    x, y = rng.uniform(0, sw - cw), rng.uniform(0, sh - ch)
    return x, y, cw, ch


def real_background(rng, W, H, T, fixed=False, avoid=None):
    """Frames of a real window, cropped and scaled: (frames float32, name, entry, fps, W, H).

    Unless fixed, the size changes to a smaller one of SIZES (or the window's own,
    even) where W x H would enlarge the window more than REAL_MAX_UPSCALE."""
    if not REAL_WINDOWS:
        sys.exit("family 'real' needs --real DIR")
    idx = int(rng.integers(len(REAL_WINDOWS)))
    if avoid is not None:  # a second shot: from another video where there is one
        for _ in range(8):
            if REAL_WINDOWS[idx].get("family") != avoid.get("family"):
                break
            idx = int(rng.integers(len(REAL_WINDOWS)))
    win = REAL_WINDOWS[idx]
    src, fps = decode_frames(win["path"], T)
    sh, sw = src.shape[1:3]
    if not fixed:
        def up(size):
            w, h = size
            return max(w / sw, h / sh)  # enlargement of the aspect crop at full zoom
        if up((W, H)) > REAL_MAX_UPSCALE:
            pool = [s for s in (GIF_SIZES if (W, H) in GIF_SIZES else SIZES) if up(s) <= REAL_MAX_UPSCALE]
            if pool:
                W, H = max(pool, key=lambda s: s[0] * s[1])
            else:
                W, H = sw // 2 * 2, sh // 2 * 2
    x, y, cw, ch = _crop_box(rng, sw, sh, W, H, REAL_MAX_UPSCALE if not fixed else 1e9)
    # sub-pixel crop and scale in one affine map, the same for every frame
    sx, sy = W / cw, H / ch
    m = np.float64([[sx, 0, -x * sx + 0.5 * sx - 0.5], [0, sy, -y * sy + 0.5 * sy - 0.5]])
    area = sx < 1 and sy < 1
    frames = []
    for f in src:
        f = f.astype(np.float32)
        if area:  # pre-filter against aliasing when shrinking
            f = cv2.GaussianBlur(f, (0, 0), max(0.5 / sx - 0.5, 0.01))
        frames.append(cv2.warpAffine(f, m, (W, H), flags=cv2.INTER_CUBIC if not area else cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))
    frames = [np.clip(f, 0, 255).astype(np.float32) for f in frames]
    while fixed and len(frames) < T:  # a short second shot: hold its last frame
        frames.append(frames[-1])
    return frames, win["file"], win, fps, W, H


# --------------------------------------------------------------------- camera

class Camera:
    """A path over the world: a 2x3 world-to-screen map per frame."""

    def __init__(self, rng, world_shape, kind, W, H, T):
        self.kind, self.W, self.H = kind, W, H
        wh, ww = world_shape[:2]
        self.cx0, self.cy0 = ww / 2, wh / 2
        margin = max(min(ww - W * 1.45, wh - H * 1.45) / 2, 4.0)
        pan = kind in ("pan", "mix")
        speed = min(rng.uniform(0.5, 4.0), margin / T) if pan else 0.0
        ang = rng.uniform(0, 2 * math.pi)
        self.vx, self.vy = speed * math.cos(ang), speed * math.sin(ang)
        self.zoom = rng.uniform(0.003, 0.012) * rng.choice([-1, 1]) if kind in ("zoom", "mix") else 0.0
        if self.zoom < 0:  # zooming out must not leave the world
            self.zoom = max(self.zoom, -0.3 / T)
        self.rot = math.radians(rng.uniform(0.15, 0.7)) * rng.choice([-1, 1]) if kind in ("rotate", "mix") else 0.0
        self.shake = np.zeros((T, 3))
        if kind in ("shake", "mix"):
            amp = rng.uniform(0.7, 3.0) if kind == "shake" else rng.uniform(0.3, 1.2)
            raw = rng.normal(0, 1, (T + 8, 3))
            k = np.array([1, 2, 3, 2, 1], float) / 9
            sm = np.stack([np.convolve(raw[:, i], k, "same") for i in range(3)], 1)[4:T + 4]
            self.shake = sm * [amp, amp, math.radians(0.25) * amp]

    def matrix(self, t):
        s = (1.0 + self.zoom) ** t
        a = self.rot * t + self.shake[t, 2]
        cx, cy = self.cx0 + self.vx * t + self.shake[t, 0], self.cy0 + self.vy * t + self.shake[t, 1]
        c, si = math.cos(a) * s, math.sin(a) * s
        W, H = self.W, self.H
        return np.array([[c, -si, W / 2 - c * cx + si * cy], [si, c, H / 2 - si * cx - c * cy]], np.float64)

    def to_screen(self, t, x, y):
        m = self.matrix(t)
        return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]

    def to_world(self, t, x, y):
        m = cv2.invertAffineTransform(self.matrix(t))
        return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]

    def render(self, world, t):
        return cv2.warpAffine(world, self.matrix(t), (self.W, self.H), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)


class FootageCamera:
    """Real footage carries its own camera: world and screen coordinates are the same."""

    kind = "footage"

    def __init__(self, W, H):
        self.W, self.H = W, H

    def matrix(self, t):
        return np.array([[1, 0, 0], [0, 1, 0]], np.float64)

    def to_screen(self, t, x, y):
        return x, y

    def to_world(self, t, x, y):
        return x, y

    def render(self, world, t):
        return world.copy()


# -------------------------------------------------------------------- sprites

def ball_sprite(rng, r):
    col = rng.uniform(20, 245, 3).astype(np.float32)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    d = np.sqrt(xx ** 2 + yy ** 2)
    alpha = np.clip(r + 0.5 - d, 0, 1)
    shade = np.clip(1.15 - 0.5 * np.sqrt((xx + r / 3) ** 2 + (yy + r / 3) ** 2) / r, 0.4, 1.2)
    return np.clip(col * shade[..., None], 0, 255), alpha


def patch_sprite(rng, world, r, shape="disc"):
    """A disc or box cut from elsewhere in the world, tinted: (sprite, alpha)."""
    h, w = world.shape[:2]
    y, x = int(rng.integers(0, h - 2 * r - 1)), int(rng.integers(0, w - 2 * r - 1))
    tex = world[y:y + 2 * r + 1, x:x + 2 * r + 1]
    sprite = np.clip(tex * 0.55 + rng.uniform(0, 255, 3).astype(np.float32) * 0.45, 0, 255)
    if shape == "disc":
        return sprite, ball_sprite(rng, r)[1]
    alpha = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    a = int(r * rng.uniform(0.4, 0.9))
    alpha[r - a:r + a + 1, :] = 1
    return sprite, alpha


def paste(img, sprite, alpha, x, y):
    """Alpha-composites sprite centred at (x, y), sub-pixel."""
    h, w = alpha.shape
    ix, iy = int(math.floor(x)) - w // 2, int(math.floor(y)) - h // 2
    fx, fy = x - math.floor(x), y - math.floor(y)
    m = np.float32([[1, 0, fx], [0, 1, fy]])
    sp = cv2.warpAffine(sprite, m, (w + 1, h + 1), flags=cv2.INTER_LINEAR)
    al = cv2.warpAffine(alpha, m, (w + 1, h + 1), flags=cv2.INTER_LINEAR)
    x0, y0 = max(ix, 0), max(iy, 0)
    x1, y1 = min(ix + w + 1, img.shape[1]), min(iy + h + 1, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    a = al[y0 - iy:y1 - iy, x0 - ix:x1 - ix, None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + sp[y0 - iy:y1 - iy, x0 - ix:x1 - ix] * a


def local_remap(world, src, cx, cy, R, fn):
    """Replaces world's square of half-size R around (cx, cy) by src sampled at fn(xx, yy)."""
    h, w = world.shape[:2]
    x0, x1 = max(int(cx - R), 0), min(int(cx + R) + 1, w)
    y0, y1 = max(int(cy - R), 0), min(int(cy + R) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    mx, my = fn(xx, yy)
    world[y0:y1, x0:x1] = cv2.remap(src, mx.astype(np.float32), my.astype(np.float32),
                                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def bbox_of(points, pad, W, H):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(min(xs) - pad, 0), max(min(ys) - pad, 0)
    x1, y1 = min(max(xs) + pad, W), min(max(ys) + pad, H)
    return [int(x0), int(y0), int(max(x1 - x0, 1)), int(max(y1 - y0, 1))]


def stick_figure(img, x, y, t, scale, col, phase):
    """A walker centred at hip (x, y), limbs swinging with t."""
    s = scale
    sw = math.sin(phase + t * 0.45) * 0.6
    hip = (x, y)
    neck = (x, y - 1.6 * s)
    pts = [(neck, (x, y - 2.1 * s)), (hip, neck)]
    for sgn in (1, -1):
        pts.append((hip, (x + math.sin(sgn * sw) * s, y + math.cos(sw) * s * 1.1)))
        pts.append((neck, (x + math.sin(-sgn * sw) * s * 0.9, y - 0.7 * s)))
    th = max(2, int(s / 6))
    for a, b in pts:
        cv2.line(img, (int(a[0] * 4), int(a[1] * 4)), (int(b[0] * 4), int(b[1] * 4)), col, th, cv2.LINE_AA, 2)
    cv2.circle(img, (int(x * 4), int((y - 2.4 * s) * 4)), int(s * 0.35 * 4), col, -1, cv2.LINE_AA, 2)


# ---------------------------------------------------------------------- clips

class Clip:
    """Everything drawn into one clip, then rendered frame by frame."""

    def __init__(self, rng, family, cam_kind, W, H, T, fixed_size=False, avoid=None):
        self.real = family == "real"
        self.frames_src, self.real_entry, self.fps = None, None, None
        if self.real:  # the frames are the footage's; the world is its frame 0
            self.frames_src, self.background, self.real_entry, self.fps, W, H = \
                real_background(rng, W, H, T, fixed_size, avoid)
            T = min(T, len(self.frames_src))
            self.world = self.frames_src[0]
            self.cam = FootageCamera(W, H)
        self.rng, self.W, self.H, self.T = rng, W, H, T
        if not self.real:
            self.world, self.background = background(rng, family, W, H)
            self.cam = Camera(rng, self.world.shape, cam_kind, W, H, T)
        self.world_fx = []   # fn(world_copy, t): edits in world coordinates
        self.objects = []    # fn(t) -> list of (sprite, alpha, world x, world y)
        self.drawers = []    # fn(world_copy, t): drawn with cv2 in world coordinates
        self.screen_fx = []  # fn(frame, t) -> frame, in screen coordinates
        self.noise = rng.uniform(0.0, 2.0)
        self.textures = []   # real footage: texture at each view_point drawn

    def source(self, t):
        """The unedited world at time t: the filmed image, or real footage's frame t."""
        return self.frames_src[t] if self.real else self.world

    def texture(self, t, box=None):
        """Mean absolute gray gradient of real frame t, in box (x, y, w, h) or all of it."""
        gray = self.frames_src[min(max(t, 0), self.T - 1)].mean(axis=2)
        if box is not None:
            x, y, w, h = (int(v) for v in box)
            gray = gray[max(y, 0):y + h, max(x, 0):x + w]
        if gray.shape[0] < 2 or gray.shape[1] < 2:
            return 0.0
        return float(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())

    def view_point(self, t, fx=(0.3, 0.7), fy=(0.3, 0.7)):
        rng = self.rng
        if self.real:  # of a few places, the most textured: a flat wall hides a warp
            R = max(int(0.12 * self.H), 4)
            best, score = None, -1.0
            for _ in range(8):
                x, y = rng.uniform(*fx) * self.W, rng.uniform(*fy) * self.H
                s = self.texture(t, (x - R, y - R, 2 * R, 2 * R))
                if s > score:
                    best, score = (x, y), s
            self.textures.append(score)
            return best
        return self.cam.to_world(t, rng.uniform(*fx) * self.W, rng.uniform(*fy) * self.H)

    def render(self):
        frames = []
        for t in range(self.T):
            edited = self.world_fx or self.objects or self.drawers
            base = self.source(t)
            world = base.copy() if edited else base
            for fx in self.world_fx:
                fx(world, t)
            for d in self.drawers:
                d(world, t)
            for obj in self.objects:
                for sprite, alpha, x, y in obj(t):
                    paste(world, sprite, alpha, x, y)
            frame = self.cam.render(world, t)
            for fx in self.screen_fx:
                frame = fx(frame, t)
            frames.append(frame)
        return frames

    def finish(self, frames):
        out = []
        for f in frames:
            if self.noise > 0:
                f = f + self.rng.normal(0, self.noise, f.shape).astype(np.float32)
            out.append(np.clip(f, 0, 255).astype(np.uint8))
        return out


def envelope(t, t0, d):
    """0 outside [t0, t0+d-1], a half-sine bump inside (never 0 inside)."""
    if t < t0 or t >= t0 + d:
        return 0.0
    return math.sin(math.pi * (t - t0 + 1) / (d + 1))


def add_warp(c, form):
    if form in ("field", "shear"):
        return add_wide_warp(c, form)
    rng, T = c.rng, c.T
    d = int(rng.integers(3, 11)) if form == "swirl" else int(rng.integers(2, 7))
    t0 = int(rng.integers(3, T - d - 3))
    R = rng.uniform(0.09, 0.22) * c.H
    cx, cy = c.view_point(t0)
    A = {"swirl": rng.uniform(0.6, 1.6), "bulge": rng.uniform(0.25, 0.5),
         "pinch": rng.uniform(0.3, 0.6), "ripple": rng.uniform(2.0, 5.0)}[form]
    lam, ph = rng.uniform(10, 24), rng.uniform(0, 2 * math.pi)

    def fx(world, t):
        e = envelope(t, t0, d)
        if e == 0:
            return
        src = c.source(t)

        def fn(xx, yy):
            dx, dy = xx - cx, yy - cy
            r = np.sqrt(dx * dx + dy * dy) + 1e-6
            g = np.exp(-(r / R) ** 2)
            if form == "swirl":
                a = A * e * g
                ca, sa = np.cos(a), np.sin(a)
                return cx + ca * dx - sa * dy, cy + sa * dx + ca * dy
            if form in ("bulge", "pinch"):
                k = 1 - A * e * g if form == "bulge" else 1 + A * e * g
                return cx + dx * k, cy + dy * k
            disp = A * e * g * np.sin(2 * math.pi * r / lam - ph - 1.3 * t)
            return xx + disp * dx / r, yy + disp * dy / r
        local_remap(world, src, cx, cy, 2.6 * R, fn)
    c.world_fx.append(fx)
    pts = [c.cam.to_screen(t, cx + a, cy + b) for t in (t0, t0 + d - 1) for a in (-R, R) for b in (-R, R)]
    return [{"kind": "warp", "start_frame": t0, "end_frame": t0 + d - 1, "bbox": bbox_of(pts, 0, c.W, c.H)}]


def add_melt(c, form):
    if form in ("smear", "slump"):
        return add_wide_melt(c, form)
    rng, T = c.rng, c.T
    if form == "fast_sag":
        d = int(rng.integers(6, 15))
        total = rng.uniform(1.5, 3.0) * d
        Rx = rng.uniform(0.1, 0.22) * c.H
    elif form == "slow_sag":
        total = rng.uniform(15, 35)
        d = int(rng.integers(15, 41))
        d = max(d, int(math.ceil(total)))  # under 1 px a frame
        Rx = rng.uniform(0.12, 0.25) * c.H
    else:  # drip: narrow, stretched downward
        total = rng.uniform(10, 30)
        d = int(rng.integers(10, 26))
        Rx = rng.uniform(4, 10)
    d = min(d, T - 6)
    if form == "slow_sag":
        total = min(total, float(d))
    t0 = int(rng.integers(2, T - d - 2))
    Ry = max(1.3 * total, Rx * 0.9, 12.0)
    cx, cy = c.view_point(t0, fy=(0.25, 0.5))

    def fx(world, t):
        if t < t0:
            return
        src = c.source(t)
        amount = total * min(t - t0 + 1, d) / d

        def fn(xx, yy):
            wx = np.exp(-((xx - cx) / Rx) ** 2)
            if form == "drip":  # only below the source: a drop pulled down
                wy = np.where(yy < cy, np.exp(-((yy - cy) / (0.8 * Ry)) ** 2), np.exp(-((yy - cy) / (1.5 * Ry)) ** 2))
            else:
                wy = np.exp(-((yy - cy) / Ry) ** 2)
            return xx, yy - amount * wx * wy
        reach = 4.2 * Ry if form == "drip" else 2.6 * Ry
        local_remap(world, src, cx, cy + total / 2, max(2.6 * Rx, reach), fn)
    c.world_fx.append(fx)
    pts = [c.cam.to_screen(t, cx + a, cy + b) for t in (t0, t0 + d - 1) for a in (-Rx, Rx) for b in (-Ry, Ry + total)]
    return [{"kind": "melt", "start_frame": t0, "end_frame": t0 + d - 1, "bbox": bbox_of(pts, 0, c.W, c.H)}]


def soft_region(rng, W, H):
    rw, rh = int(rng.integers(W // 4, W // 2)), int(rng.integers(H // 4, H // 2))
    x, y = int(rng.integers(0, W - rw)), int(rng.integers(0, H - rh))
    m = np.zeros((H, W), np.float32)
    m[y:y + rh, x:x + rw] = 1
    return cv2.GaussianBlur(m, (0, 0), rng.uniform(1, 6))[..., None], [x, y, rw, rh]


def add_flicker(c, form):
    rng, T = c.rng, c.T
    if form == "single_frame":
        pulses = [int(rng.integers(3, T - 3))]
        amps = [rng.uniform(0.06, 0.25) * rng.choice([-1, 1])]
        regional = rng.random() < 0.5
    else:
        span = int(rng.integers(4, 13))
        t0 = int(rng.integers(3, T - span - 3))
        pulses = sorted(int(p) for p in rng.choice(np.arange(t0, t0 + span), size=int(rng.integers(2, 5)), replace=False))
        base = rng.uniform(0.04, 0.2)
        amps = [base * rng.uniform(0.7, 1.3) * rng.choice([-1, 1]) for _ in pulses]
        regional = form == "regional"
    mask, box = soft_region(rng, c.W, c.H) if regional else (None, None)
    gains = dict(zip(pulses, amps))

    def fx(frame, t):
        if t not in gains:
            return frame
        g = 1 + gains[t]
        return frame * g if mask is None else frame * (1 + (g - 1) * mask)
    c.screen_fx.append(fx)
    return [{"kind": "flicker", "start_frame": pulses[0], "end_frame": pulses[-1], "bbox": box}]


def _mover(c, t_ref, speed, screen_xy=None):
    """World-coordinate start and velocity of something seen near screen_xy at t_ref."""
    rng = c.rng
    sx, sy = screen_xy or (rng.uniform(0.3, 0.7) * c.W, rng.uniform(0.3, 0.7) * c.H)
    ang = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(ang), speed * math.sin(ang)
    wx, wy = c.cam.to_world(t_ref, sx, sy)
    return wx - vx * t_ref, wy - vy * t_ref, vx, vy


def add_teleport(c, form):
    rng, T, W, H = c.rng, c.T, c.W, c.H
    t0 = int(rng.integers(6, T - 6))
    r = int(rng.uniform(0.05, 0.1) * H)
    if form == "jump":
        dist = rng.uniform(35, 110) * H / 240
        ang = rng.uniform(0, 2 * math.pi)
        sx = np.clip(W / 2 - dist / 2 * math.cos(ang), r + 4, W - r - 4)
        sy = np.clip(H / 2 - dist / 2 * math.sin(ang), r + 4, H - r - 4)
        x0, y0, vx, vy = _mover(c, t0, rng.uniform(0, 2.5), (sx, sy))
        jx, jy = dist * math.cos(ang), dist * math.sin(ang)
        sprite, alpha = patch_sprite(rng, c.world, r, rng.choice(["disc", "box"]))

        def obj(t):
            j = t >= t0
            return [(sprite, alpha, x0 + vx * t + jx * j, y0 + vy * t + jy * j)]
        c.objects.append(obj)
        a = c.cam.to_screen(t0 - 1, x0 + vx * (t0 - 1), y0 + vy * (t0 - 1))
        b = c.cam.to_screen(t0, x0 + vx * t0 + jx, y0 + vy * t0 + jy)
    else:  # swap: two different things trade places between two frames
        sep = rng.uniform(50, 120) * H / 240
        pa = (W / 2 - sep / 2, H / 2 + rng.uniform(-0.15, 0.15) * H)
        pb = (W / 2 + sep / 2, H / 2 + rng.uniform(-0.15, 0.15) * H)
        ax, ay, avx, avy = _mover(c, t0, rng.uniform(0, 1.5), pa)
        bx, by, bvx, bvy = _mover(c, t0, rng.uniform(0, 1.5), pb)
        s1 = patch_sprite(rng, c.world, r, "disc")
        s2 = ball_sprite(rng, r) if rng.random() < 0.5 else patch_sprite(rng, c.world, r, "box")

        def obj(t):
            A = (ax + avx * t, ay + avy * t)
            B = (bx + bvx * t, by + bvy * t)
            if t >= t0:
                A, B = B, A
            return [(*s1, *A), (*s2, *B)]
        c.objects.append(obj)
        a = c.cam.to_screen(t0, ax + avx * t0, ay + avy * t0)
        b = c.cam.to_screen(t0, bx + bvx * t0, by + bvy * t0)
    return [{"kind": "teleport", "start_frame": t0 - 1, "end_frame": t0, "bbox": bbox_of([a, b], r + 2, W, H)}]


def add_fringe(c, form):
    if form in ("jitter", "one_channel"):
        return add_wide_fringe(c, form)
    rng, T, W, H = c.rng, c.T, c.W, c.H
    t0 = int(rng.integers(2, T - 8))
    t1 = min(T - 1, t0 + int(rng.integers(6, 30)))
    shift = rng.uniform(1.0, 2.5)
    ang = rng.uniform(0, 2 * math.pi)
    ramp = int(rng.integers(1, 10))
    mask, box = soft_region(rng, W, H) if form == "regional_shift" else (None, None)

    def fx(frame, t):
        if not t0 <= t <= t1:
            return frame
        out = frame.copy()
        for ch, sign in ((0, 1), (2, -1)):
            if form == "radial_growth":  # grows toward the corners, and over time
                s = shift * min(1.0, (t - t0 + 1) / ramp) / math.hypot(W / 2, H / 2)
                m = cv2.getRotationMatrix2D((W / 2, H / 2), 0, 1 + sign * s)
            else:
                m = np.float32([[1, 0, sign * shift * math.cos(ang)], [0, 1, sign * shift * math.sin(ang)]])
            out[..., ch] = cv2.warpAffine(frame[..., ch], m, (W, H), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT)
        return out if mask is None else frame * (1 - mask) + out * mask
    c.screen_fx.append(fx)
    return [{"kind": "chromatic_aberration", "start_frame": t0, "end_frame": t1, "bbox": box}]


SPARK_COLOURS = [[20, 255, 90], [255, 30, 200], [30, 220, 255], [255, 40, 30], [255, 230, 20], [60, 80, 255]]


def add_sparks(c, form):
    rng, T, W, H = c.rng, c.T, c.W, c.H
    span = int(rng.integers(6, 13)) if form != "single_specks" else int(rng.integers(8, 25))
    t0 = int(rng.integers(2, T - span - 2))
    specks = {}  # frame -> list of (x, y, radius, colour)
    for t in range(t0, t0 + span):
        if form == "burst":
            n, rad = int(rng.integers(3, 10)), (1, 2)
        elif form == "sparse_green":
            n, rad = int(rng.integers(1, 4)), (1, 3)
        else:
            live = len(specks.get(t, []))
            n = int(rng.integers(0, 3)) if live < 4 else 0
            if t == t0:
                n = max(n, 1)
            rad = (1, 3)
        for _ in range(n):
            x, y = rng.uniform(4, W - 5), rng.uniform(4, H - 5)
            r = rng.uniform(*rad)
            col = SPARK_COLOURS[0] if form == "sparse_green" else SPARK_COLOURS[int(rng.integers(len(SPARK_COLOURS)))]
            life = int(rng.integers(1, 4)) if form == "single_specks" else 1
            for k in range(life):
                if t + k < T:
                    specks.setdefault(t + k, []).append((x, y, r, col))
    frames = sorted(specks)

    def fx(frame, t):
        for x, y, r, col in specks.get(t, []):
            cv2.circle(frame, (int(x * 4), int(y * 4)), max(1, int(r * 4)), col, -1, cv2.LINE_AA, 2)
        return frame
    c.screen_fx.append(fx)
    return [{"kind": "color_sparks", "start_frame": frames[0], "end_frame": frames[-1], "bbox": None}]


def add_bleed(c, form):
    if form in ("blend", "dissolve"):
        return add_wide_bleed(c, form)
    rng, T = c.rng, c.T
    if form == "fade_in":
        d = min(int(rng.integers(20, 41)), T - 6)
    else:
        d = int(rng.integers(6, 15))
    t0 = int(rng.integers(2, T - d - 2))
    bw, bh = int(rng.uniform(0.25, 0.45) * c.H * 1.2), int(rng.uniform(0.25, 0.45) * c.H)
    cx, cy = c.view_point(t0)
    x0, y0 = int(cx - bw / 2), int(cy - bh / 2)
    hW, wW = c.world.shape[:2]
    x0, y0 = int(np.clip(x0, 0, wW - bw)), int(np.clip(y0, 0, hW - bh))
    if form == "fade_in":  # from a neighbouring region of the same scene
        ang = rng.uniform(0, 2 * math.pi)
        off = rng.uniform(1.0, 1.8)
        sx = int(np.clip(x0 + off * bw * math.cos(ang), 0, wW - bw))
        sy = int(np.clip(y0 + off * bh * math.sin(ang), 0, hW - bh))
        tex = c.world[sy:sy + bh, sx:sx + bw].copy()
    else:
        tex = np.clip(_procedural(rng, str(rng.choice(["fbm", "stripes", "checker", "cells"])), bh, bw), 0, 255)
    strength = rng.uniform(0.6, 0.95)
    yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
    feather = np.minimum.reduce([xx, yy, bw - 1 - xx, bh - 1 - yy]) / 6.0
    edge = np.clip(feather, 0, 1)
    side = int(rng.integers(4))
    u = [xx, bw - 1 - xx, yy, bh - 1 - yy][side]
    length = bw if side < 2 else bh
    dist = np.sqrt((xx - bw / 2) ** 2 + (yy - bh / 2) ** 2)

    def fx(world, t):
        if t < t0:
            return
        frac = min((t - t0 + 1) / d, 1.0)
        if form == "creep":
            a = np.clip((frac * length - u) / 8.0, 0, 1) * edge
        elif form == "spread":
            a = np.clip((frac * dist.max() - dist) / 6.0, 0, 1) * edge
        else:
            a = edge * (0.5 - 0.5 * math.cos(math.pi * frac))
        a = (a * strength)[..., None]
        patch = world[y0:y0 + bh, x0:x0 + bw]
        src = c.source(t)[sy:sy + bh, sx:sx + bw] if c.real and form == "fade_in" else tex
        world[y0:y0 + bh, x0:x0 + bw] = patch * (1 - a) + src * a
    c.world_fx.append(fx)
    pts = [c.cam.to_screen(t, x, y) for t in (t0, t0 + d - 1) for x in (x0, x0 + bw) for y in (y0, y0 + bh)]
    return [{"kind": "texture_bleed", "start_frame": t0, "end_frame": t0 + d - 1, "bbox": bbox_of(pts, 0, c.W, c.H)}]


# ------------------------------------------------------------- wide forms
# Training-only forms (FORMS' `_wide` lists): broad random draws per kind.

def wide_profile(rng, d):
    """A random time profile over d frames: fn(k) for k = 0.. -> [0, 1]."""
    kind = int(rng.integers(3))
    p = rng.uniform(0.5, 2.5)
    if kind == 0:  # rises and stays
        return lambda k: min((k + 1) / d, 1.0) ** p
    if kind == 1:  # bump
        return lambda k: math.sin(math.pi * min(k + 1, d) / (d + 1)) ** p if k < d else 0.0
    hold = rng.uniform(0.2, 0.6)  # rise, hold, fall
    return lambda k: 0.0 if k >= d else min(1.0, (k + 1) / max(1.0, hold * d), (d - k) / max(1.0, hold * d))


def add_wide_warp(c, form):
    rng, T, s = c.rng, c.T, c.H / 240
    d = int(rng.integers(2, 13))
    t0 = int(rng.integers(2, T - d - 2))
    prof = wide_profile(rng, d)
    cx, cy = c.view_point(t0)
    R = rng.uniform(0.07, 0.25) * c.H
    if form == "field":  # a few bumps, each pushing its neighbourhood one way
        bumps = []
        for _ in range(int(rng.integers(1, 4))):
            a, m = rng.uniform(0, 2 * math.pi), rng.uniform(1.5, 8.0) * s
            bumps.append((cx + rng.normal(0, 0.4) * R, cy + rng.normal(0, 0.4) * R,
                          R * rng.uniform(0.4, 1.0), m * math.cos(a), m * math.sin(a)))
    else:  # shear: a random local affine map (stretch, squash, shear) under a window
        M = rng.uniform(-1, 1, (2, 2))
        M *= rng.uniform(0.15, 0.45) / max(np.abs(M).max(), 1e-3)

    def fx(world, t):
        e = prof(t - t0) if t >= t0 else 0.0
        if e == 0:
            return
        src = c.source(t)

        def fn(xx, yy):
            if form == "field":
                mx, my = xx.copy(), yy.copy()
                for bx, by, br, vx, vy in bumps:
                    g = e * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / br ** 2)
                    mx -= vx * g
                    my -= vy * g
                return mx, my
            dx, dy = xx - cx, yy - cy
            g = e * np.exp(-(dx * dx + dy * dy) / R ** 2)
            return xx + g * (M[0, 0] * dx + M[0, 1] * dy), yy + g * (M[1, 0] * dx + M[1, 1] * dy)
        local_remap(world, src, cx, cy, 2.8 * R, fn)
    c.world_fx.append(fx)
    pts = [c.cam.to_screen(t, cx + a, cy + b) for t in (t0, t0 + d - 1) for a in (-1.3 * R, 1.3 * R)
           for b in (-1.3 * R, 1.3 * R)]
    return [{"kind": "warp", "start_frame": t0, "end_frame": t0 + d - 1, "bbox": bbox_of(pts, 0, c.W, c.H)}]


def add_wide_melt(c, form):
    rng, T, s = c.rng, c.T, c.H / 240
    d = min(int(rng.integers(6, 41)), T - 6)
    total = float(np.exp(rng.uniform(math.log(6), math.log(40)))) * s
    t0 = int(rng.integers(2, T - d - 2))
    p = rng.uniform(0.6, 1.8)
    cx, cy = c.view_point(t0, fy=(0.2, 0.55))
    Rx, Ry = rng.uniform(0.06, 0.22) * c.H, rng.uniform(0.1, 0.3) * c.H
    drift = rng.uniform(-0.25, 0.25)
    lobes = [(rng.normal(0, 0.5) * Rx, rng.uniform(0.5, 1.0)) for _ in range(int(rng.integers(1, 4)))]

    def fx(world, t):
        if t < t0:
            return
        amount = total * min((t - t0 + 1) / d, 1.0) ** p
        src = c.source(t)

        def fn(xx, yy):
            if form == "smear":  # one to three lobes sinking, a little sideways
                w = sum(k * np.exp(-((xx - cx - ox) / Rx) ** 2) for ox, k in lobes)
                w = w * np.exp(-((yy - cy) / Ry) ** 2)
                return xx - drift * amount * w, yy - amount * w
            # slump: anchored at its top, stretched down to its bottom, sinking below
            wx = np.exp(-((xx - cx) / Rx) ** 2)
            top = cy - Ry
            frac = np.clip((yy - top) / (2 * Ry), 0, None)
            wy = np.where(frac <= 1, frac, np.exp(-((frac - 1) * 2 * Ry / (0.7 * Ry)) ** 2))
            return xx, yy - amount * wx * wy
        local_remap(world, src, cx, cy + total / 2, 2.6 * max(Rx, Ry) + total, fn)
    c.world_fx.append(fx)
    pts = [c.cam.to_screen(t, cx + a, cy + b) for t in (t0, t0 + d - 1) for a in (-1.5 * Rx, 1.5 * Rx)
           for b in (-Ry, Ry + total)]
    return [{"kind": "melt", "start_frame": t0, "end_frame": t0 + d - 1, "bbox": bbox_of(pts, 0, c.W, c.H)}]


def add_wide_bleed(c, form):
    rng, T = c.rng, c.T
    d = min(int(rng.integers(5, 41)), T - 6)
    t0 = int(rng.integers(2, T - d - 2))
    bw, bh = int(rng.uniform(0.2, 0.5) * c.H * 1.2), int(rng.uniform(0.2, 0.5) * c.H)
    cx, cy = c.view_point(t0)
    hW, wW = c.world.shape[:2]
    x0, y0 = int(np.clip(cx - bw / 2, 0, wW - bw)), int(np.clip(cy - bh / 2, 0, hW - bh))
    far = rng.random() < 0.5
    if far:  # another part of the same scene, at least a box away
        ang, off = rng.uniform(0, 2 * math.pi), rng.uniform(1.0, 3.0)
        sx = int(np.clip(x0 + off * bw * math.cos(ang), 0, wW - bw))
        sy = int(np.clip(y0 + off * bh * math.sin(ang), 0, hW - bh))
        tex = c.world[sy:sy + bh, sx:sx + bw].copy()
    else:
        tex = np.clip(_procedural(rng, str(rng.choice(["fbm", "stripes", "checker", "cells", "gradient"])),
                                  bh, bw), 0, 255)
    strength = rng.uniform(0.45, 0.95)
    if form == "blend":  # a soft random blob, faded in with a random profile
        noise = cv2.GaussianBlur(rng.uniform(0, 1, (bh, bw)).astype(np.float32), (0, 0), max(bw, bh) / 6)
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        ell = 1 - ((xx - bw / 2) / (bw / 2)) ** 2 - ((yy - bh / 2) / (bh / 2)) ** 2
        mask = np.clip((noise - noise.mean()) / (noise.std() + 1e-6) * 0.5 + 2.0 * ell, 0, 1)
        prof = wide_profile(rng, d) if rng.random() < 0.3 else (lambda k: min((k + 1) / d, 1.0))

        def alpha(t):  # held at its last value once the d frames are over
            return mask * prof(min(t - t0, d - 1))
    else:  # dissolve: tiles of the box switch over one by one
        n = int(rng.integers(3, 7))
        ty, tx = np.mgrid[0:bh, 0:bw]
        tile = (ty * n // bh) * n + (tx * n // bw)
        starts = rng.uniform(0, max(d - 3, 1), n * n)
        ramp = rng.uniform(1, 4)
        edge = np.clip(np.minimum.reduce([tx, ty, bw - 1 - tx, bh - 1 - ty]) / 4.0, 0, 1).astype(np.float32)

        def alpha(t):
            return np.clip((t - t0 - starts[tile] + 1) / ramp, 0, 1).astype(np.float32) * edge

    def fx(world, t):
        if t < t0:
            return
        a = (alpha(t) * strength)[..., None]
        patch = world[y0:y0 + bh, x0:x0 + bw]
        src = c.source(t)[sy:sy + bh, sx:sx + bw] if c.real and far else tex
        world[y0:y0 + bh, x0:x0 + bw] = patch * (1 - a) + src * a
    c.world_fx.append(fx)
    pts = [c.cam.to_screen(t, x, y) for t in (t0, t0 + d - 1) for x in (x0, x0 + bw) for y in (y0, y0 + bh)]
    return [{"kind": "texture_bleed", "start_frame": t0, "end_frame": t0 + d - 1, "bbox": bbox_of(pts, 0, c.W, c.H)}]


def add_wide_fringe(c, form):
    rng, T, W, H = c.rng, c.T, c.W, c.H
    t0 = int(rng.integers(2, T - 8))
    t1 = min(T - 1, t0 + int(rng.integers(5, 36)))
    ramp = int(rng.integers(1, 13))
    if form == "jitter":  # red and blue each their own way, or only one of them
        chans = [0, 2] if rng.random() < 0.7 else [int(rng.choice([0, 2]))]
    else:  # one_channel: one of the three (green too) slides against the others
        chans = [int(rng.integers(3))]
    moves = []
    for ch in chans:
        a, m = rng.uniform(0, 2 * math.pi), rng.uniform(0.6, 2.6)
        radial = form == "one_channel" and rng.random() < 0.5
        moves.append((ch, m * math.cos(a), m * math.sin(a), radial, m))
    mask, box = soft_region(rng, W, H) if rng.random() < 0.3 else (None, None)

    def fx(frame, t):
        if not t0 <= t <= t1:
            return frame
        k = min(1.0, (t - t0 + 1) / ramp)
        out = frame.copy()
        for ch, dx, dy, radial, m in moves:
            if radial:
                sc = 1 + k * m / math.hypot(W / 2, H / 2)
                mat = cv2.getRotationMatrix2D((W / 2, H / 2), 0, sc)
            else:
                mat = np.float32([[1, 0, k * dx], [0, 1, k * dy]])
            out[..., ch] = cv2.warpAffine(frame[..., ch], mat, (W, H), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REFLECT)
        return out if mask is None else frame * (1 - mask) + out * mask
    c.screen_fx.append(fx)
    return [{"kind": "chromatic_aberration", "start_frame": t0, "end_frame": t1, "bbox": box}]


def _ball_track(c, ys, xs, r, sprite=None):
    sprite = sprite or ball_sprite(c.rng, r)
    c.objects.append(lambda t: [(*sprite, xs[t], ys[t])])
    screen = [c.cam.to_screen(t, xs[t], ys[t]) for t in range(c.T)]
    visible = [t for t in range(c.T) if r < screen[t][0] < c.W - r and r < screen[t][1] < c.H - r]
    return screen, visible


def add_gravity(c, form):
    rng, T, W, H = c.rng, c.T, c.W, c.H
    r = int(rng.uniform(0.025, 0.07) * H) + 3
    g = rng.uniform(0.3, 1.0) * H / 240
    x_start, _ = c.cam.to_world(0, rng.uniform(0.25, 0.75) * W, 0)
    vxb = rng.uniform(-2.0, 2.0)
    xs = [x_start + vxb * t for t in range(T)]
    if form == "upward_accel":
        _, y0 = c.cam.to_world(0, W / 2, H * 0.85)
        v0 = rng.uniform(0.0, 1.0)
        ys = [y0 - v0 * t - 0.5 * g * t * t for t in range(T)]
        screen, vis = _ball_track(c, ys, xs, r)
        span = (vis[0], vis[-1]) if vis else (0, -1)
    else:
        tb = int(rng.integers(8, max(9, T - 14)))
        _, y0 = c.cam.to_world(0, W / 2, H * 0.08)
        # fall so that the turn happens around mid-height
        g = min(g, 0.55 * H / max(tb * tb, 1))
        ys, y, v = [], y0, 0.0
        for t in range(T):
            ys.append(y)
            if t < tb:
                v += g
            elif form == "hover":
                v = v * 0.3 if abs(v) > 0.2 else 0.0
            else:
                if t == tb:
                    v = -abs(v) * rng.uniform(0.6, 1.0)
                v -= g * rng.uniform(0.1, 0.4)  # and keeps accelerating upward
            y += v
        screen, vis = _ball_track(c, ys, xs, r)
        span = (max(tb - 2, vis[0]), min(tb + 5, vis[-1])) if vis else (0, -1)
    if span[1] - span[0] < 3:
        return []
    pts = [screen[t] for t in range(span[0], span[1] + 1)]
    return [{"kind": "gravity_violation", "start_frame": int(span[0]), "end_frame": int(span[1]),
             "bbox": bbox_of(pts, r + 2, W, H)}]


def add_clean(c, form, family):
    rng, T, W, H = c.rng, c.T, c.W, c.H
    if form == "camera_only":
        return
    if form in ("thrown_ball", "dropped_ball"):
        r = int(rng.uniform(0.025, 0.07) * H) + 3
        g = rng.uniform(0.3, 1.0) * H / 240
        x_start, _ = c.cam.to_world(0, rng.uniform(0.2, 0.8) * W, 0)
        vxb = rng.uniform(-2.5, 2.5)
        xs = [x_start + vxb * t for t in range(T)]
        if form == "thrown_ball":
            _, y0 = c.cam.to_world(0, W / 2, H * rng.uniform(0.55, 0.9))
            vy0 = -rng.uniform(0.5, 0.9) * g * T / 2
            ys = [y0 + vy0 * t + 0.5 * g * t * t for t in range(T)]
        else:  # dropped onto a floor, bouncing with restitution
            _, y0 = c.cam.to_world(0, W / 2, H * 0.1)
            _, floor = c.cam.to_world(0, W / 2, H * rng.uniform(0.75, 0.9))
            e = rng.uniform(0.4, 0.8)
            ys, y, v = [], y0, 0.0
            for _t in range(T):
                ys.append(y)
                v += g
                y += v
                if y > floor - r:
                    y, v = floor - r - (y - (floor - r)) * e, -abs(v) * e
            fl = floor

            def draw_floor(world, t):
                world[int(fl):int(fl) + 4] = world[int(fl):int(fl) + 4] * 0.35
            c.drawers.append(draw_floor)
        _ball_track(c, ys, xs, r)
    elif form in ("sliding_object", "occlusion", "fast_blur"):
        r = int(rng.uniform(0.05, 0.1) * H)
        speed = rng.uniform(0.5, 4.0) if form != "fast_blur" else rng.uniform(10, 28)
        accel = rng.uniform(-0.05, 0.05) if form == "sliding_object" else 0.0
        t_mid = T // 2
        x0, y0, vx, vy = _mover(c, t_mid, speed, (W / 2, H / 2))
        if form == "fast_blur":
            sprite, alpha = ball_sprite(rng, r)
            steps = 8

            def obj(t):  # the shutter is open for most of the frame: smeared
                return [(sprite, alpha / steps * 1.6, x0 + vx * (t + s / steps - 0.5), y0 + vy * (t + s / steps - 0.5))
                        for s in range(steps)]
        else:
            sprite, alpha = patch_sprite(rng, c.world, r, rng.choice(["disc", "box"]))

            def obj(t):
                k = t - t_mid
                return [(sprite, alpha, x0 + vx * t + accel * vx * k * abs(k), y0 + vy * t + accel * vy * k * abs(k))]
        c.objects.append(obj)
        if form == "occlusion":  # a post in front, fixed in the world, hides the mover for a while
            pw = int(rng.uniform(1.2, 2.5) * r) * 2
            px, py = c.cam.to_world(t_mid, W / 2, H / 2)
            col = rng.uniform(0, 255, 3).astype(np.float32)
            shade = np.linspace(0.7, 1.1, pw, dtype=np.float32)[None, :, None]

            def post(t):
                return [(np.clip(col * shade * np.ones((2 * H, pw, 1), np.float32), 0, 255),
                         np.ones((2 * H, pw), np.float32), px, py)]
            c.objects.append(post)
    elif form == "stick_figure":
        scale = rng.uniform(0.08, 0.14) * H
        x0, y0, vx, _ = _mover(c, T // 2, rng.uniform(0.8, 2.5), (W / 2, H * 0.6))
        col = tuple(float(v) for v in rng.uniform(0, 255, 3))
        phase = rng.uniform(0, 2 * math.pi)
        c.drawers.append(lambda world, t: stick_figure(world, x0 + vx * t, y0 + 2 * math.sin(t * 0.9 + phase), t, scale, col, phase))
    elif form == "waving_bands":
        bands = []
        for _ in range(int(rng.integers(1, 4))):
            bx, by = c.view_point(T // 2, (0.1, 0.3), (0.2, 0.8))
            bands.append((bx, by, rng.uniform(0.4, 0.7) * W, rng.uniform(8, 24), rng.uniform(4, 12), rng.uniform(20, 60),
                          rng.uniform(0.15, 0.45), tuple(float(v) for v in rng.uniform(0, 255, 3)), rng.uniform(0.6, 0.95)))

        def draw(world, t):
            for bx, by, length, thick, amp, lam, omega, col, op in bands:
                xs = np.linspace(bx, bx + length, 40)
                ys = by + amp * np.sin(2 * math.pi * (xs - bx) / lam - omega * t) * (xs - bx) / length
                top = np.stack([xs, ys], 1)
                poly = np.concatenate([top, (top + [0, thick])[::-1]]).astype(np.int32)
                layer = world.copy()
                cv2.fillPoly(layer, [poly], col, cv2.LINE_AA)
                world[:] = world * (1 - op) + layer * op
        c.drawers.append(draw)
    elif form == "exposure_ramp":
        t0 = int(rng.integers(0, T // 3))
        d = int(rng.integers(15, 41))
        target = 1 + rng.uniform(0.15, 0.4) * rng.choice([-1, 1])
        c.screen_fx.append(lambda f, t: f * (1 + (target - 1) * (0.5 - 0.5 * math.cos(math.pi * min(max((t - t0) / d, 0), 1)))))
    elif form == "defocus_ramp":
        t0 = int(rng.integers(0, T // 3))
        d = int(rng.integers(10, 31))
        smax = rng.uniform(1.5, 3.0)
        into = rng.random() < 0.5

        def blur(f, t):
            k = min(max((t - t0) / d, 0), 1)
            s = smax * (k if into else 1 - k)
            return cv2.GaussianBlur(f, (0, 0), s) if s > 0.3 else f
        c.screen_fx.append(blur)
    elif form == "sensor_noise":
        c.noise = rng.uniform(3, 9)
    elif form in ("shot_cut", "cross_fade"):
        if c.real:  # another window, the same size and length
            other = Clip(rng, family, "static", W, H, T, fixed_size=True, avoid=c.real_entry)
        else:
            other = Clip(rng, family, str(rng.choice(CAMERAS)), W, H, T)
        second = other.render()
        tc = int(rng.integers(T // 4, 3 * T // 4))
        fade = int(rng.integers(6, 16)) if form == "cross_fade" else 1

        def cut(f, t):
            k = min(max((t - tc + 1) / fade, 0), 1)
            return f * (1 - k) + second[t] * k
        c.screen_fx.append(cut)


ADDERS = {"warp": add_warp, "melt": add_melt, "flicker": add_flicker, "teleport": add_teleport,
          "chromatic_aberration": add_fringe, "color_sparks": add_sparks, "texture_bleed": add_bleed,
          "gravity_violation": add_gravity}


def visible_on_footage(c, kind, form, truth):
    """Whether a remap or fringe lands on enough texture of the real frames to be seen."""
    if kind in ("warp", "melt") or (kind == "texture_bleed" and form == "fade_in"):
        return min(c.textures) >= REAL_MIN_TEXTURE
    if kind == "chromatic_aberration":
        return c.texture(truth["start_frame"], truth["bbox"]) >= REAL_MIN_TEXTURE
    return True


def visible_change(c, frames, without, truth):
    """The largest mean absolute change (grey levels) a defect makes inside its
    box on one of its frames: `frames` rendered with it, `without` without."""
    x, y, w, h = truth["bbox"]
    peak = 0.0
    for t in range(truth["start_frame"], truth["end_frame"] + 1):
        a = detail(frames[t][y:y + h, x:x + w])
        b = detail(without[t][y:y + h, x:x + w])
        if a.size:
            peak = max(peak, float(np.percentile(np.abs(a - b), 95)))
    return peak


def detail(img):
    """Grey levels minus their 9x9 local mean: what is left when a smooth shading
    is taken away (a sag of a smooth gradient is still a smooth gradient)."""
    g = img.astype(np.float32).mean(axis=2)
    if min(g.shape) < 3:
        return g
    k = 4
    p = np.pad(g, k, mode="edge")
    c = p.cumsum(0).cumsum(1)
    c = np.pad(c, ((1, 0), (1, 0)))
    n = 2 * k + 1
    box = (c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]) / (n * n)
    return g - box


def make_clip(rng, kind, form, family, cam_kind, W, H, T):
    c = Clip(rng, family, cam_kind, W, H, T)
    if kind == "clean":
        add_clean(c, form, family)
        truth = []
    else:
        before = len(c.world_fx)
        truth = ADDERS[kind](c, form)
        if c.real and truth and not visible_on_footage(c, kind, form, truth[0]):
            truth = []  # the caller draws again
        if truth and kind in REMAPS:
            # A remap of a flat region changes nothing one could see: a label
            # for it would teach (and score) noise. Rendering consumes no random
            # numbers, so a clip that passes is the same as without this check.
            frames = c.render()
            added, c.world_fx = c.world_fx[before:], c.world_fx[:before]
            without = c.render()
            c.world_fx += added
            if visible_change(c, frames, without, truth[0]) < MIN_VISIBLE_CHANGE:
                truth = []  # the caller draws again
            else:
                return c.finish(frames), truth, c
    # Sparks and flicker sit on top of the rendered frame; everything else is in it.
    return c.finish(c.render()), truth, c


# ------------------------------------------------------------------- encoding

def encode(frames, path, fps, encoding):
    H, W = frames[0].shape[:2]
    cmd = ["ffmpeg", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{W}x{H}", "-r", str(fps), "-i", "-", "-threads", "1"]
    if encoding == "gif":
        cmd += ["-filter_complex", "split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=3",
                "-loop", "0", path]
    else:
        crf = encoding.split("crf")[1]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", crf, "-pix_fmt", "yuv420p",
                "-x264-params", "threads=1", path]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)


# ----------------------------------------------------------------------- main

def plan(args):
    """The clips to make: (kind, form, family) per index, balanced by rotation."""
    families = [f for f, (s, _) in FAMILIES.items() if s == args.split]
    real = getattr(args, "real", None)
    if real and not args.families:
        families.append("real")
    if args.families:
        families = args.families.split(",")
        known = list(FAMILIES) + (["real"] if real else [])
        for f in families:
            if f not in known:
                hint = " (family 'real' needs --real DIR)" if f == "real" else ""
                sys.exit(f"unknown family {f!r}; known: {', '.join(known)}{hint}")
    forms = {k: list(v[args.split]) + (list(v.get(args.split + "_wide", [])) if args.wide else [])
             for k, v in FORMS.items()}
    if args.forms:
        wanted = args.forms.split(",")
        known = {f for v in FORMS.values() for s in v.values() for f in s}
        for f in wanted:
            if f not in known:
                sys.exit(f"unknown form {f!r}; known: {', '.join(sorted(known))}")
        forms = {k: [f for s in v.values() for f in s if f in wanted] for k, v in FORMS.items()}
        forms = {k: sorted(set(v), key=v.index) for k, v in forms.items()}
    rotation = [k for k in ROTATION if forms.get(k)]
    if not rotation:
        sys.exit("no kind has a form left")
    count, jobs = {}, []
    for i in range(args.clips):
        kind = rotation[i % len(rotation)]
        n = count.get(kind, 0)
        count[kind] = n + 1
        # Shifted by one every rotation, so that each kind meets every family.
        family = families[(i + i // len(rotation)) % len(families)]
        jobs.append((kind, forms[kind][n % len(forms[kind])], family))
    return jobs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (clips + labels.json)")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--clips", type=int, default=96)
    ap.add_argument("--split", choices=["tune", "heldout"], default="heldout",
                    help="picks the background families and defect forms")
    ap.add_argument("--families", help="comma-separated families (overrides the split's)")
    ap.add_argument("--forms", help="comma-separated forms (overrides the split's; clean forms included)")
    ap.add_argument("--wide", action="store_true",
                    help="add the split's wide forms (training sets only; see FORMS)")
    ap.add_argument("--gif-share", type=float, default=0.3, help="share of clips encoded as GIF")
    ap.add_argument("--real", help="folder of real footage windows with labels.json "
                    "(scripts/real_footage.py); adds the family 'real'")
    args = ap.parse_args()
    if args.real:
        REAL_WINDOWS[:] = load_real_windows(args.real)
    if not shutil.which("ffmpeg"):
        sys.exit("corpus.py needs the ffmpeg binary on PATH (apt-get install ffmpeg)")
    os.makedirs(args.out, exist_ok=True)
    labels = []
    for i, (kind, form, family) in enumerate(plan(args)):
        for attempt in range(6):
            # One generator per split, clip and attempt: a clip does not depend on
            # the others, and the two splits draw differently from one seed.
            rng = np.random.default_rng([args.seed, ["tune", "heldout"].index(args.split), i, attempt])
            gif = rng.random() < args.gif_share
            W, H = (GIF_SIZES if gif else SIZES)[int(rng.integers(len(GIF_SIZES if gif else SIZES)))]
            T = int(rng.integers(32, 49 if gif else 65))
            fps = int(rng.choice(FPS))
            cam = str(rng.choice(CAMERAS)) if attempt < 3 else "static"
            encoding = "gif" if gif else f"h264-crf{int(rng.integers(18, 33))}"
            frames, truth, c = make_clip(rng, kind, form, family, cam, W, H, T)
            if c.real:  # the footage's own size, length, frame rate and camera
                W, H, T, fps, cam = c.W, c.H, len(frames), int(round(c.fps)), "footage"
            if kind == "clean" or truth:
                break
        else:
            print(f"clip {i}: {kind}/{form} never came into view (or never onto enough "
                  "texture to be seen); skipped", file=sys.stderr)
            continue
        name = f"clip_{i:04d}.{'gif' if gif else 'mp4'}"
        encode(frames, os.path.join(args.out, name), fps, encoding)
        entry = {"file": name, "clean": kind == "clean", "frames": T, "defects": truth,
                 "family": family, "background": c.background, "form": form, "camera": cam,
                 "encoding": encoding, "fps": fps, "width": W, "height": H, "split": args.split}
        if c.real:
            entry["real_source"] = c.real_entry.get("family")
        labels.append(entry)
        if (i + 1) % 16 == 0:
            print(f"{i + 1} clips", file=sys.stderr, flush=True)
    with open(os.path.join(args.out, "labels.json"), "w") as fh:
        json.dump(labels, fh, indent=1)
    with open(os.path.join(args.out, "corpus.json"), "w") as fh:
        json.dump({"seed": args.seed, "clips": args.clips, "split": args.split, "families": args.families,
                   "forms": args.forms, "wide": args.wide, "gif_share": args.gif_share,
                   **({"real": args.real} if args.real else {})}, fh)
    print(f"{len(labels)} clips in {args.out}")


if __name__ == "__main__":
    main()
