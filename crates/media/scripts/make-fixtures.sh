#!/usr/bin/env bash
# Regenerates the small test fixtures under tests/fixtures/ with ffmpeg
# (libx264, libx265, libvpx-vp9, libwebp, apng, gif encoders).
#
# Every clip shows the same pattern, so the tests can check pixels after any
# codec: the top-left quadrant is red (255,0,0), the top-right green
# (0,255,0), and the bottom half is grey at level 5 * frame number. The grey
# level lets the tests check that frames come out in presentation order even
# from streams with B-frames.
#
# Run from anywhere: crates/media/scripts/make-fixtures.sh
set -euo pipefail

out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures"
mkdir -p "$out"
cd "$out"
rm -rf png_seq jpeg_seq

ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

# pattern W H FRAMES FPS -> an lavfi source string
pattern() {
  echo "color=c=black:s=$1x$2:r=$4:d=$(python3 -c "print($3/$4)"),format=rgb24,geq=r='if(lt(Y,H/2),if(lt(X,W/2),255,0),N*5)':g='if(lt(Y,H/2),if(lt(X,W/2),0,255),N*5)':b='if(lt(Y,H/2),0,N*5)'"
}

# H.264 at the three libx264 profiles; main and high keep x264's default
# B-frames (3), which is what ffmpeg produces unless told otherwise.
ff -f lavfi -i "$(pattern 160 120 24 24)" -c:v libx264 -profile:v baseline -pix_fmt yuv420p -crf 18 h264_baseline.mp4
ff -f lavfi -i "$(pattern 160 120 24 24)" -c:v libx264 -profile:v main -pix_fmt yuv420p -crf 18 h264_main_bframes.mp4
ff -f lavfi -i "$(pattern 160 120 48 24)" -c:v libx264 -profile:v high -pix_fmt yuv420p -crf 18 h264_high_bframes.mp4
# An odd size (not a multiple of 16) at 30 fps: cropping in the SPS.
ff -f lavfi -i "$(pattern 90 62 30 30)" -c:v libx264 -profile:v high -pix_fmt yuv420p -crf 18 h264_high_90x62.mp4

# Benchmark clips: ffmpeg's testsrc2 (moving content) at two sizes, libx264 defaults.
ff -f lavfi -i testsrc2=s=320x240:r=24:d=2 -c:v libx264 -pix_fmt yuv420p -crf 28 bench_320x240.mp4
ff -f lavfi -i testsrc2=s=1280x720:r=24:d=1 -c:v libx264 -pix_fmt yuv420p -crf 34 bench_1280x720.mp4

# Codecs openh264 cannot decode: read through an ffmpeg binary when present.
ff -f lavfi -i "$(pattern 64 48 12 12)" -c:v libx265 -x265-params log-level=error -pix_fmt yuv420p -tag:v hvc1 hevc.mp4
# H.264 High 10: beyond openh264 (8-bit only), so also an ffmpeg-path file.
ff -f lavfi -i "$(pattern 64 48 12 12)" -c:v libx264 -pix_fmt yuv420p10le -crf 18 h264_high10.mp4
ff -f lavfi -i "$(pattern 64 48 12 12)" -c:v libvpx-vp9 -pix_fmt yuv420p -b:v 200k vp9.webm

# Animated images.
# One palette for the whole clip (without it ffmpeg dithers to a fixed one).
ff -f lavfi -i "$(pattern 64 48 12 12)" -filter_complex "split[a][b];[a]palettegen=stats_mode=full[p];[b][p]paletteuse=dither=none" anim.gif
ff -f lavfi -i "$(pattern 64 48 12 12)" -plays 0 -f apng anim.apng
ff -f lavfi -i "$(pattern 64 48 12 12)" -c:v libwebp_anim -lossless 1 -loop 0 anim.webp

# Folders of numbered frames.
mkdir -p png_seq jpeg_seq
ff -f lavfi -i "$(pattern 64 48 12 12)" png_seq/frame_%04d.png
ff -f lavfi -i "$(pattern 64 48 6 12)" -q:v 2 jpeg_seq/%03d.jpg

# Bad inputs.
# An MP4 whose only track is audio: no video frames at all.
ff -f lavfi -i sine=d=0.2 -c:a aac audio_only.mp4
# The first 60% of an MP4 (moov at the end is lost).
python3 - <<'PY'
data = open("h264_main_bframes.mp4", "rb").read()
open("truncated.mp4", "wb").write(data[: len(data) * 6 // 10])
# Same container, garbage inside the mdat box only: the H.264 payload is
# corrupt, the index intact.
i = data.find(b"mdat")
end = i - 4 + int.from_bytes(data[i - 4 : i], "big")
buf = bytearray(data)
for k in range(i + 4 + 40, end, 7):
    buf[k] ^= 0x5A
open("corrupt_payload.mp4", "wb").write(bytes(buf))
open("not_a_video.mp4", "wb").write(b"this is plain text, not an mp4 file\n" * 4)
PY

du -sh "$out"
