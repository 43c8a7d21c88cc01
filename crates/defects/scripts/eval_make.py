#!/usr/bin/env python3
"""Builds framebreak-defects' evaluation set: clips made from real
photographs (those bundled with scikit-image) filmed by a smoothly moving
camera, each with one defect injected at a known place and time, plus clean
clips (camera motion only, a correctly falling or thrown ball, a sliding
object).

    .work/bench/venv/bin/python crates/defects/scripts/eval_make.py --split tune
    .work/bench/venv/bin/python crates/defects/scripts/eval_make.py --split test

Each clip is a folder of PNG frames (0000.png…) with `truth.json` beside
them: {"kind": null | "<defect kind>", "photo", "camera", "fps",
"defects": [{"kind", "start_frame", "end_frame", "bbox": [x, y, w, h]}]}.
The tune and test splits use different photographs and seeds, so
thresholds tuned on one are measured on the other.
"""

import argparse
import json
import math
import os

import cv2
import numpy as np
from skimage import data

W, H, FRAMES, FPS = 320, 240, 32, 24.0
KINDS = ["warp", "melt", "flicker", "teleport", "chromatic_aberration",
         "color_sparks", "texture_bleed", "gravity_violation", "frozen"]
PHOTOS = {
    "tune": ["astronaut", "coffee", "chelsea", "rocket"],
    "test": ["motorcycle", "hubble_deep_field", "immunohistochemistry", "retina", "camera", "coins"],
}
TEXTURES = {"tune": ["brick", "grass"], "test": ["gravel", "text"]}
SEEDS = {"tune": 1000, "test": 7_000_000}


def photo(name):
    img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3].astype(np.uint8)
    # The world the camera films: at least 1.7x the view on each side.
    scale = max(1.7 * W / img.shape[1], 1.7 * H / img.shape[0], 1.0)
    if scale != 1.0:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return img


def texture(name, size):
    t = getattr(data, name)()
    if t.ndim == 2:
        t = np.stack([t] * 3, axis=-1)
    t = cv2.resize(t[..., :3], (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return t.astype(np.float32)


class Camera:
    """A smooth path over the world: pan, zoom, rotate, or a mix."""

    def __init__(self, rng, world_shape, kind):
        self.kind = kind
        wh, ww = world_shape[:2]
        self.cx0, self.cy0 = ww / 2, wh / 2
        margin_x, margin_y = (ww - W * 1.25) / 2, (wh - H * 1.25) / 2
        speed = rng.uniform(0.8, 3.0)
        ang = rng.uniform(0, 2 * math.pi)
        limit = max(min(margin_x, margin_y) / FRAMES, 0.2)
        speed = min(speed, limit)
        self.vx, self.vy = (speed * math.cos(ang), speed * math.sin(ang)) if kind in ("pan", "mix") else (0.0, 0.0)
        self.zoom = rng.uniform(0.004, 0.010) * rng.choice([-1, 1]) if kind in ("zoom", "mix") else 0.0
        self.rot = math.radians(rng.uniform(0.2, 0.6)) * rng.choice([-1, 1]) if kind in ("rotate", "mix") else 0.0

    def matrix(self, t):
        """2x3 map from world to screen at time t."""
        s = 1.0 * (1.0 + self.zoom) ** t
        a = self.rot * t
        cx, cy = self.cx0 + self.vx * t, self.cy0 + self.vy * t
        c, si = math.cos(a) * s, math.sin(a) * s
        # screen = R*S*(world - centre) + view centre
        return np.array([[c, -si, W / 2 - c * cx + si * cy], [si, c, H / 2 - si * cx - c * cy]], np.float64)

    def to_screen(self, t, x, y):
        m = self.matrix(t)
        return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]

    def to_world(self, t, x, y):
        m = cv2.invertAffineTransform(self.matrix(t))
        return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]

    def render(self, world, t):
        return cv2.warpAffine(world, self.matrix(t), (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def ball_sprite(rng, r):
    col = np.array(rng.choice([[220, 40, 40], [40, 90, 220], [240, 200, 30], [240, 240, 240], [30, 30, 30]]), np.float32)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    d = np.sqrt(xx ** 2 + yy ** 2)
    alpha = np.clip(r + 0.5 - d, 0, 1)
    shade = np.clip(1.15 - 0.5 * np.sqrt((xx + r / 3) ** 2 + (yy + r / 3) ** 2) / r, 0.4, 1.2)
    rgb = np.clip(col[None, None, :] * shade[..., None], 0, 255)
    return rgb, alpha


def paste(img, sprite, alpha, x, y):
    """Alpha-composites sprite centred at (x, y), sub-pixel via a shifted sprite."""
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


def bbox_of(points, pad, clip_to_frame=True):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(min(xs) - pad, 0), max(min(ys) - pad, 0)
    x1, y1 = min(max(xs) + pad, W), min(max(ys) + pad, H)
    return [int(x0), int(y0), int(max(x1 - x0, 1)), int(max(y1 - y0, 1))]


def textured_disc(rng, tex_name):
    """A disc of radius 14-23 px cut from a texture, tinted: (r, sprite, alpha)."""
    r = int(rng.integers(14, 24))
    tex = texture(tex_name, (2 * r + 1, 2 * r + 1))
    _, alpha = ball_sprite(rng, r)
    sprite = np.clip(tex * 0.6 + np.array(rng.integers(0, 255, 3), np.float32) * 0.4, 0, 255)
    return r, sprite, alpha


def make_clip(rng, split, kind, photo_name, cam_kind):
    world0 = photo(photo_name).astype(np.float32)
    cam = Camera(rng, world0.shape, cam_kind)
    truth = []
    frames_out = []
    T = FRAMES
    t0 = int(rng.integers(6, T - 16))
    t1 = t0 + int(rng.integers(6, 12))
    tex_name = TEXTURES[split][int(rng.integers(len(TEXTURES[split])))]
    # A point of the world that stays in view around t0..t1.
    vx, vy = rng.uniform(W * 0.3, W * 0.7), rng.uniform(H * 0.3, H * 0.7)
    wx, wy = cam.to_world(t0, vx, vy)

    objects = []  # per-frame list of (sprite, alpha, world x, world y)
    if kind == "gravity_violation" or kind == "clean_ball":
        r = int(rng.integers(9, 15))
        sprite, alpha = ball_sprite(rng, r)
        g = rng.uniform(0.45, 1.0)
        x_start, _ = cam.to_world(0, rng.uniform(W * 0.25, W * 0.75), 0)
        vxb = rng.uniform(-2.0, 2.0)
        mode = "clean" if kind == "clean_ball" else rng.choice(["up", "float", "reverse"])
        if mode == "clean":
            variant = rng.choice(["fall", "throw"])
            vy0 = 0.0 if variant == "fall" else -rng.uniform(0.5, 0.8) * g * T / 2
            y_top = H * 0.12 if variant == "fall" else H * 0.55
            _, y_start = cam.to_world(0, W / 2, y_top)
            ys = [y_start + vy0 * t + 0.5 * g * t * t for t in range(T)]
        elif mode == "up":
            _, y_start = cam.to_world(0, W / 2, H * 0.85)
            vy0 = rng.uniform(0.0, 1.0)
            ys = [y_start - vy0 * t - 0.5 * g * t * t for t in range(T)]
        else:
            _, y_start = cam.to_world(0, W / 2, H * 0.1)
            ys = []
            y, v = y_start, 0.0
            tb = t0
            for t in range(T):
                ys.append(y)
                if t < tb:
                    v += g
                elif mode == "float":
                    v = v * 0.3 if abs(v) > 0.2 else 0.0
                else:
                    if t == tb:
                        v = -abs(v) * rng.uniform(0.7, 1.0)
                    v -= g * 0.2
                y += v
        xs = [x_start + vxb * t for t in range(T)]
        for t in range(T):
            objects.append([(sprite, alpha, xs[t], ys[t])])
        screen = [cam.to_screen(t, xs[t], ys[t]) for t in range(T)]
        visible = [t for t in range(T) if -r < screen[t][0] < W + r and -r < screen[t][1] < H + r]
        if kind == "gravity_violation" and visible:
            if mode == "up":
                span = (visible[0], visible[-1])
            else:
                span = (max(t0 - 2, visible[0]), min(t0 + 5, visible[-1]))
            if span[1] - span[0] >= 3:
                pts = [screen[t] for t in range(span[0], span[1] + 1)]
                truth.append({"kind": kind, "start_frame": span[0], "end_frame": span[1], "bbox": bbox_of(pts, r + 2), "mode": str(mode)})
    elif kind in ("teleport", "clean_slide"):
        r, sprite, alpha = textured_disc(rng, tex_name)
        speed = rng.uniform(0.0, 2.0)
        ang = rng.uniform(0, 2 * math.pi)
        jump = rng.uniform(60, 110)
        jang = rng.uniform(0, 2 * math.pi)
        sx, sy = cam.to_world(0, rng.uniform(W * 0.35, W * 0.65), rng.uniform(H * 0.35, H * 0.65))
        for t in range(T):
            x, y = sx + speed * math.cos(ang) * t, sy + speed * math.sin(ang) * t
            if kind == "teleport" and t >= t0:
                x, y = x + jump * math.cos(jang), y + jump * math.sin(jang)
            objects.append([(sprite, alpha, x, y)])
        if kind == "teleport":
            a = cam.to_screen(t0 - 1, *objects[t0 - 1][0][2:])
            b = cam.to_screen(t0, *objects[t0][0][2:])
            truth.append({"kind": kind, "start_frame": t0 - 1, "end_frame": t0, "bbox": bbox_of([a, b], r + 2)})

    elif kind == "frozen" and cam_kind == "static":
        # A still camera on a still photograph films the same frame over and
        # over: a freeze there changes no pixel and no detector could see it
        # (such clips used to be labelled anyway). So something slides
        # through the shot, and its stopping is the freeze. Drawn from a
        # generator of its own: every other clip of the split stays the same.
        sub = np.random.default_rng([SEEDS[split], t0, t1, int(wx), int(wy)])
        _, sprite, alpha = textured_disc(sub, tex_name)
        speed = sub.uniform(1.5, 3.0)
        ang = sub.uniform(0, 2 * math.pi)
        # Centred on its path's middle, so it stays in view throughout.
        cx, cy = W / 2 + sub.uniform(-0.15, 0.15) * W, H / 2 + sub.uniform(-0.15, 0.15) * H
        for t in range(T):
            d = speed * (t - T / 2)
            objects.append([(sprite, alpha, *cam.to_world(t, cx + d * math.cos(ang), cy + d * math.sin(ang)))])

    prev = None
    freeze = (t0, t0 + int(rng.integers(3, 7))) if kind == "frozen" else None
    ca = (rng.uniform(1.5, 3.0), rng.uniform(0, 2 * math.pi), rng.random() < 0.5) if kind == "chromatic_aberration" else None
    region = None
    if kind in ("flicker", "chromatic_aberration") and rng.random() < 0.5:
        rw, rh = int(rng.integers(W // 3, W // 2)), int(rng.integers(H // 3, H // 2))
        region = (int(rng.integers(0, W - rw)), int(rng.integers(0, H - rh)), rw, rh)
    pulses = sorted(rng.choice(np.arange(t0, t1), size=3, replace=False)) if kind == "flicker" else []
    amp = rng.uniform(0.08, 0.2)
    rad = rng.uniform(30, 55)
    for t in range(T):
        world = world0.copy() if (objects or kind in ("warp", "melt", "texture_bleed")) else world0
        if kind == "warp" and t0 <= t <= t1:
            th = 1.4 * math.sin(math.pi * (t - t0) / (t1 - t0))
            yy, xx = np.mgrid[0:world.shape[0], 0:world.shape[1]].astype(np.float32)
            dx, dy = xx - wx, yy - wy
            d = np.sqrt(dx * dx + dy * dy)
            a = th * np.exp(-(d / rad) ** 2)
            c, s = np.cos(a), np.sin(a)
            world = cv2.remap(world, (wx + c * dx - s * dy).astype(np.float32), (wy + s * dx + c * dy).astype(np.float32), cv2.INTER_LINEAR)
        if kind == "melt" and t >= t0:
            amount = 2.2 * (min(t, t1) - t0 + 1)
            yy, xx = np.mgrid[0:world.shape[0], 0:world.shape[1]].astype(np.float32)
            w_ = np.exp(-((xx - wx) / rad) ** 2 - ((yy - wy) / (rad * 0.8)) ** 2)
            world = cv2.remap(world, xx, (yy - amount * w_).astype(np.float32), cv2.INTER_LINEAR)
        if kind == "texture_bleed" and t >= t0:
            frac = min((t - t0 + 1) / (t1 - t0 + 1), 1.0)
            bw, bh = int(rad * 2.2), int(rad * 2)
            x0, y0 = int(wx - bw / 2), int(wy - bh / 2)
            tex = texture(tex_name, (bh, bw))
            yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
            # The texture creeps in from the left edge of the box.
            alpha = np.clip((frac * bw - xx) / 8.0, 0, 1) * 0.75
            patch = world[y0:y0 + bh, x0:x0 + bw]
            world[y0:y0 + bh, x0:x0 + bw] = patch * (1 - alpha[..., None]) + tex * alpha[..., None]
        for (sprite, alpha, x, y) in (objects[t] if objects else []):
            paste(world, sprite, alpha, x, y)
        frame = cam.render(world, t)
        if kind == "flicker" and t in pulses:
            gain = 1 + amp * (1 if t % 2 else -1)
            if region:
                x, y, w, h = region
                frame[y:y + h, x:x + w] *= gain
            else:
                frame *= gain
        if ca and t0 <= t <= t1:
            sh, ang, radial = ca
            out = frame.copy()
            for ch, sign in ((0, 1), (2, -1)):
                if radial:
                    m = cv2.getRotationMatrix2D((W / 2, H / 2), 0, 1 + sign * sh / (W / 2))
                else:
                    m = np.float32([[1, 0, sign * sh * math.cos(ang)], [0, 1, sign * sh * math.sin(ang)]])
                out[..., ch] = cv2.warpAffine(frame[..., ch], m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if region:
                x, y, w, h = region
                frame[y:y + h, x:x + w] = out[y:y + h, x:x + w]
            else:
                frame = out
        if kind == "color_sparks" and t0 <= t <= t1:
            for _ in range(int(rng.integers(3, 9))):
                x, y = int(rng.integers(2, W - 3)), int(rng.integers(2, H - 3))
                s = int(rng.integers(1, 3))
                col = [20, 255, 90] if rng.random() < 0.7 else [int(v) for v in rng.choice([[255, 30, 200], [30, 220, 255]])]
                frame[y:y + s, x:x + s] = col
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        if freeze and freeze[0] < t <= freeze[1]:
            frame = prev
        prev = frame
        frames_out.append(frame)

    if kind == "frozen":
        truth.append({"kind": kind, "start_frame": freeze[0], "end_frame": freeze[1], "bbox": None})
    elif kind == "flicker":
        bb = list(region) if region else None
        truth.append({"kind": kind, "start_frame": int(pulses[0]), "end_frame": int(pulses[-1]), "bbox": bb})
    elif kind == "chromatic_aberration":
        truth.append({"kind": kind, "start_frame": t0, "end_frame": t1, "bbox": list(region) if region else None})
    elif kind == "color_sparks":
        truth.append({"kind": kind, "start_frame": t0, "end_frame": t1, "bbox": None})
    elif kind in ("warp", "melt", "texture_bleed"):
        end = t1 if kind == "warp" else T - 1
        pts = [cam.to_screen(t, wx + dx, wy + dy) for t in (t0, end) for dx in (-rad, rad) for dy in (-rad, rad)]
        truth.append({"kind": kind, "start_frame": t0 + (1 if kind == "warp" else 0), "end_frame": end, "bbox": bbox_of(pts, 0)})
    return frames_out, truth, cam


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["tune", "test"], required=True)
    ap.add_argument("--out", default=".work/eval")
    ap.add_argument("--per-kind", type=int, default=8)
    ap.add_argument("--clean", type=int, default=24)
    ap.add_argument("--seed", type=int, default=None, help="overrides the split's seed (a different set)")
    args = ap.parse_args()
    rng = np.random.default_rng(SEEDS[args.split] if args.seed is None else args.seed)
    out = os.path.join(args.out, args.split)
    os.makedirs(out, exist_ok=True)
    jobs = [(k, i) for k in KINDS for i in range(args.per_kind)]
    clean_kinds = ["clean", "clean_ball", "clean_slide"]
    jobs += [(clean_kinds[i % 3], i) for i in range(args.clean)]
    for n, (kind, i) in enumerate(jobs):
        photo_name = PHOTOS[args.split][n % len(PHOTOS[args.split])]
        cam_kind = ["pan", "zoom", "rotate", "mix", "static"][int(rng.integers(5))]
        frames, truth, cam = make_clip(rng, args.split, kind, photo_name, cam_kind)
        if kind.startswith("clean") is False and not truth:
            frames, truth, cam = make_clip(rng, args.split, kind, photo_name, "pan")
        folder = os.path.join(out, f"{n:03d}_{kind}")
        os.makedirs(folder, exist_ok=True)
        for t, f in enumerate(frames):
            cv2.imwrite(os.path.join(folder, f"{t:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        meta = {"kind": None if kind.startswith("clean") else kind, "scene": kind, "photo": photo_name,
                "camera": cam_kind, "fps": FPS, "defects": truth}
        with open(os.path.join(folder, "truth.json"), "w") as fh:
            json.dump(meta, fh)
    print(f"{len(jobs)} clips in {out}")


if __name__ == "__main__":
    main()
