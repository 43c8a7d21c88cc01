//! Speed and flow accuracy of framebreak-defects' metrics, printed next to the
//! OpenCV / scikit-image figures of `../shared/bench/frame_metrics_ref.py`
//! measured just before on the same machine, as ratios.
//!
//! Run (from the repository root; see crates/defects/README.md):
//!
//! ```sh
//! .work/bench/venv/bin/python crates/defects/scripts/metric-refs-bench.py --out .work/bench/frames
//! .work/bench/venv/bin/python ../shared/bench/frame_metrics_ref.py --parts timing,accuracy --out-dir .work/bench/results
//! cargo bench -p framebreak-defects --bench metrics            # all parts
//! cargo bench -p framebreak-defects --bench metrics -- accuracy # one part: timing | accuracy | clip
//! ```
#![allow(clippy::print_stdout, missing_docs)] // A benchmark's job is to print.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use framebreak_defects::{
    ClipMetrics, Compute, Flow, FlowParams, Plane, dense_flow, psnr, ssim, warp_error,
};
use framebreak_media::{Clip, ClipInfo, Frame};
use serde_json::Value;

const BUDGET: Duration = Duration::from_millis(1500);
const MIN_REPS: usize = 9;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn frames_dir() -> PathBuf {
    std::env::var_os("FRAMEBREAK_BENCH_FRAMES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".work/bench/frames"))
}

fn reference() -> Option<Value> {
    let path = std::env::var_os("FRAMEBREAK_BENCH_REF")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".work/bench/results/frame_metrics.json"));
    let text = std::fs::read_to_string(&path).ok()?;
    serde_json::from_str(&text).ok()
}

fn load_rgb(path: &Path) -> Frame {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    Frame::from_rgb8(0, 0.0, w, h, img.into_raw()).expect("decoded image is a valid frame")
}

fn load_gray(path: &Path) -> Plane {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_luma8();
    let (w, h) = img.dimensions();
    Plane::new(
        w as usize,
        h as usize,
        img.into_raw().into_iter().map(f32::from).collect(),
    )
    .expect("decoded image is a valid plane")
}

/// CPU seconds this process has used (user + system, all threads), from
/// /proc/self/stat at 100 ticks/s: on a shared, overloaded machine it says
/// how much work a call is, apart from how long it waited for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Mean CPU milliseconds per call of the last [`time_op`], as f64 bits (a
/// global, not a thread-local: single-thread runs time inside a pool thread).
static LAST_CPU_MS: AtomicU64 = AtomicU64::new(0);

/// Median seconds per call, as the reference harness: 2 warm-up calls, then
/// calls until both the budget and the minimum count are reached. Also
/// records the mean CPU milliseconds per call for [`print_row`].
fn time_op(mut f: impl FnMut(usize)) -> (f64, usize) {
    f(0);
    f(1);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < MIN_REPS || start.elapsed() < BUDGET {
        let t = Instant::now();
        f(times.len());
        times.push(t.elapsed().as_secs_f64());
        if times.len() >= 2000 {
            break;
        }
    }
    let cpu_ms = (cpu_seconds() - cpu0) * 1e3 / times.len() as f64;
    LAST_CPU_MS.store(cpu_ms.to_bits(), Ordering::Relaxed);
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times.len())
}

fn ref_fps(
    reference: Option<&Value>,
    res: &str,
    op: &str,
    imp: &str,
    threads: &str,
) -> Option<f64> {
    reference?.get("timing")?.as_array()?.iter().find_map(|r| {
        (r["res"] == res
            && r["op"] == op
            && r["impl"] == imp
            && r["threads"].as_str()?.starts_with(threads))
        .then(|| r["fps"].as_f64())
        .flatten()
    })
}

fn print_row(res: &str, what: &str, fps: f64, reps: usize, refs: &[(&str, Option<f64>)]) {
    let cpu = f64::from_bits(LAST_CPU_MS.load(Ordering::Relaxed));
    let mut line =
        format!("{res:5} {what:44} {fps:9.1} pairs/s (n={reps:4}, {cpu:6.1} CPU ms/call)");
    for (name, r) in refs {
        match r {
            Some(r) => line.push_str(&format!(" | {name} {r:.1}/s: x{:.2}", fps / r)),
            None => line.push_str(&format!(" | {name}: no reference run")),
        }
    }
    println!("{line}");
}

fn timing(reference: Option<&Value>) {
    let dir = frames_dir();
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("index.json"))
            .expect("run crates/defects/scripts/metric-refs-bench.py first"),
    )
    .expect("index.json is JSON");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    let threads = rayon::current_num_threads();
    println!("== timing (median per call; rayon default pool = {threads} threads)");
    for res in ["720p", "360p"] {
        let pairs: Vec<(Frame, Frame)> = index["pairs"]
            .as_array()
            .expect("pairs")
            .iter()
            .filter(|p| p["res"] == res)
            .map(|p| {
                (
                    load_rgb(&dir.join(p["a"].as_str().expect("a"))),
                    load_rgb(&dir.join(p["b"].as_str().expect("b"))),
                )
            })
            .collect();
        // The reference converts with cv2 RGB2GRAY (integer grey); so do we.
        let gray: Vec<(Plane, Plane)> = pairs
            .iter()
            .map(|(a, b)| {
                let g = |f: &Frame| {
                    let l = Plane::luma(f);
                    Plane::new(
                        l.width(),
                        l.height(),
                        l.data().iter().map(|v| v.round()).collect(),
                    )
                    .expect("same size")
                };
                (g(a), g(b))
            })
            .collect();
        let n = pairs.len();
        let sk = "skimage structural_similarity (gauss 1.5)";
        let cvn = "cv2.GaussianBlur + numpy arithmetic (f32)";
        let cvt = "OpenCV tutorial getMSSISM (cv2 ops, f32)";
        let (t, reps) = one.install(|| {
            time_op(|i| {
                let (a, b) = &gray[i % n];
                std::hint::black_box(ssim(a, b).expect("ssim"));
            })
        });
        print_row(
            res,
            "SSIM framebreak, 1 thread",
            1.0 / t,
            reps,
            &[
                ("cv2+numpy 1 thr", ref_fps(reference, res, "SSIM", cvn, "1")),
                (
                    "cv2 tutorial 1 thr",
                    ref_fps(reference, res, "SSIM", cvt, "1"),
                ),
                ("skimage", ref_fps(reference, res, "SSIM", sk, "1")),
            ],
        );
        let (t, reps) = time_op(|i| {
            let (a, b) = &gray[i % n];
            std::hint::black_box(ssim(a, b).expect("ssim"));
        });
        print_row(
            res,
            &format!("SSIM framebreak, {threads} threads"),
            1.0 / t,
            reps,
            &[
                ("cv2+numpy 2 thr", ref_fps(reference, res, "SSIM", cvn, "2")),
                (
                    "cv2 tutorial 2 thr",
                    ref_fps(reference, res, "SSIM", cvt, "2"),
                ),
            ],
        );
        let (t, reps) = time_op(|i| {
            let (a, b) = &pairs[i % n];
            std::hint::black_box(psnr(a, b).expect("psnr"));
        });
        print_row(
            res,
            "PSNR RGB framebreak",
            1.0 / t,
            reps,
            &[
                (
                    "numpy f64",
                    ref_fps(reference, res, "PSNR", "numpy (float64)", "1"),
                ),
                (
                    "cv2.PSNR 1 thr",
                    ref_fps(reference, res, "PSNR", "cv2.PSNR", "1"),
                ),
            ],
        );
        let params = flow_params();
        let dis = "cv2.DISOpticalFlow PRESET_MEDIUM";
        let fb = "cv2.calcOpticalFlowFarneback";
        let (t, reps) = one.install(|| {
            time_op(|i| {
                let (a, b) = &gray[i % n];
                std::hint::black_box(dense_flow(a, b, &params).expect("flow"));
            })
        });
        print_row(
            res,
            "Flow framebreak, 1 thread",
            1.0 / t,
            reps,
            &[
                (
                    "DIS medium 1 thr",
                    ref_fps(reference, res, "Flow", dis, "1"),
                ),
                ("Farneback 1 thr", ref_fps(reference, res, "Flow", fb, "1")),
            ],
        );
        let (t, reps) = time_op(|i| {
            let (a, b) = &gray[i % n];
            std::hint::black_box(dense_flow(a, b, &params).expect("flow"));
        });
        print_row(
            res,
            &format!("Flow framebreak, {threads} threads"),
            1.0 / t,
            reps,
            &[(
                "DIS medium 2 thr",
                ref_fps(reference, res, "Flow", dis, "2"),
            )],
        );
        let flows: Vec<(Flow, Flow)> = gray
            .iter()
            .map(|(a, b)| {
                (
                    dense_flow(a, b, &params).expect("flow"),
                    dense_flow(b, a, &params).expect("flow"),
                )
            })
            .collect();
        let (t, reps) = time_op(|i| {
            let (a, b) = &gray[i % n];
            let (f, bw) = &flows[i % n];
            std::hint::black_box(warp_error(a, b, f, bw).expect("warp"));
        });
        print_row(
            res,
            "Warp error + occlusion mask (flows given)",
            1.0 / t,
            reps,
            &[(
                "remap+MSE 1 thr (no mask)",
                ref_fps(
                    reference,
                    res,
                    "WarpErr",
                    "cv2.remap bilinear + numpy masked MSE (flow given)",
                    "1",
                ),
            )],
        );
    }
}

/// The default flow parameters, or overrides from FRAMEBREAK_FLOW
/// (`radius,iterations,levels,regularization,fill_radius,fill_confidence[,finest_level]`) for tuning.
fn flow_params() -> FlowParams {
    let Some(spec) = std::env::var("FRAMEBREAK_FLOW").ok() else {
        return FlowParams::default();
    };
    let v: Vec<f32> = spec
        .split(',')
        .map(|x| x.parse().expect("a number"))
        .collect();
    let p = FlowParams::default()
        .with_window_radius(v[0] as usize)
        .with_iterations(v[1] as usize)
        .with_max_levels(v[2] as usize)
        .with_regularization(v[3])
        .with_fill(v[4] as usize, v[5])
        .with_finest_level(v.get(6).map_or(0, |&l| l as usize));
    println!("flow parameters: {p:?}");
    p
}

fn accuracy(reference: Option<&Value>) {
    let dir = frames_dir();
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("index.json"))
            .expect("run crates/defects/scripts/metric-refs-bench.py first"),
    )
    .expect("index.json is JSON");
    println!("== flow accuracy: mean EPE px over valid pixels (16 px margin), 3 photos");
    let params = flow_params();
    let mut ours_all = Vec::new();
    let mut dis_all = Vec::new();
    for case in index["flow"].as_array().expect("flow cases") {
        let (w, h) = (
            case["width"].as_u64().expect("w") as usize,
            case["height"].as_u64().expect("h") as usize,
        );
        let bytes = std::fs::read(dir.join(case["gt"].as_str().expect("gt"))).expect("gt flow");
        let gt: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let (gu, gv) = gt.split_at(w * h);
        let mut epes = Vec::new();
        for f in case["frames"].as_array().expect("frames") {
            let f1 = load_gray(&dir.join(f["f1"].as_str().expect("f1")));
            let f2 = load_gray(&dir.join(f["f2"].as_str().expect("f2")));
            let flow = dense_flow(&f1, &f2, &params).expect("flow");
            let (mut sum, mut count) = (0.0f64, 0usize);
            for y in 16..h - 16 {
                for x in 16..w - 16 {
                    let i = y * w + x;
                    let (sx, sy) = (x as f32 + gu[i], y as f32 + gv[i]);
                    if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f32 || sy > (h - 1) as f32 {
                        continue;
                    }
                    sum += f64::from((flow.u[i] - gu[i]).hypot(flow.v[i] - gv[i]));
                    count += 1;
                }
            }
            epes.push(sum / count as f64);
        }
        let ours = epes.iter().sum::<f64>() / epes.len() as f64;
        let label = case["case"].as_str().expect("case");
        let res = case["res"].as_str().expect("res");
        let dis = reference.and_then(|r| {
            r.get("accuracy")?.as_array()?.iter().find_map(|row| {
                (row["res"] == res && row["case"] == label)
                    .then(|| row["DIS medium"].as_f64())
                    .flatten()
            })
        });
        ours_all.push(ours);
        let dis_text = match dis {
            Some(d) => {
                dis_all.push(d);
                format!("DIS medium {d:.3}: ratio {:.2}", ours / d)
            }
            None => "DIS medium: no reference run".into(),
        };
        println!("{res:5} {label:45} framebreak {ours:.3} | {dis_text}");
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "mean over cases: framebreak {:.3} px, DIS medium {:.3} px",
        mean(&ours_all),
        mean(&dis_all)
    );
}

/// A 48-frame 320×240 clip panning smoothly (2.5, 1.0 px/frame) over a photo.
fn pan_clip() -> Clip {
    let dir = frames_dir();
    let photo = load_rgb(&dir.join("pairs/360p_0_a.png"));
    let channels: Vec<Plane> = (0..3)
        .map(|c| Plane::channel(&photo, c).expect("rgb"))
        .collect();
    let frames = (0..48u32)
        .map(|t| {
            let (ox, oy) = (20.0 + 2.5 * t as f32, 30.0 + 1.0 * t as f32);
            let mut data = Vec::with_capacity(320 * 240 * 3);
            for y in 0..240 {
                for x in 0..320 {
                    for ch in &channels {
                        let (sx, sy) = (ox + x as f32, oy + y as f32);
                        let (x0, y0) = (sx.floor(), sy.floor());
                        let (fx, fy) = (sx - x0, sy - y0);
                        let (x0, y0) = (x0 as usize, y0 as usize);
                        let v = ch.at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                            + ch.at(x0 + 1, y0) * fx * (1.0 - fy)
                            + ch.at(x0, y0 + 1) * (1.0 - fx) * fy
                            + ch.at(x0 + 1, y0 + 1) * fx * fy;
                        data.push(v.round().clamp(0.0, 255.0) as u8);
                    }
                }
            }
            Frame::from_rgb8(u64::from(t), f64::from(t) / 24.0, 320, 240, data).expect("frame")
        })
        .collect();
    Clip {
        info: ClipInfo {
            width: 320,
            height: 240,
            fps: 24.0,
            frame_count: Some(48),
            codec: "raw".into(),
        },
        frames,
    }
}

fn clip() {
    println!(
        "== whole clip: ClipMetrics::compute, 48 frames 320x240 (target < 0.25 s for all of analyze)"
    );
    let clip = pan_clip();
    let compute = Compute::cpu();
    let (t, reps) = time_op(|_| {
        std::hint::black_box(ClipMetrics::compute(&clip, &compute).expect("metrics"));
    });
    let m = ClipMetrics::compute(&clip, &compute).expect("metrics");
    let cpu = f64::from_bits(LAST_CPU_MS.load(Ordering::Relaxed));
    println!(
        "ClipMetrics::compute: {:.1} ms median (n={reps}, {cpu:.0} CPU ms/call), {:.2} of the 0.25 s budget; psnr {:.2} ssim {:.4} warp {:.5} flicker {:.5} accel {:.4} pan {:?}",
        t * 1e3,
        t / 0.25,
        m.summary.psnr_mean,
        m.summary.ssim_mean,
        m.summary.warp_error,
        m.summary.flicker_index,
        m.motion_acceleration,
        m.pairs[0].global_motion.translation(),
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    println!("load average at start: {}", load_average());
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    let reference = reference();
    if reference.is_none() {
        println!(
            "no reference results (.work/bench/results/frame_metrics.json): ratios are omitted"
        );
    }
    if want("accuracy") {
        accuracy(reference.as_ref());
    }
    if want("timing") {
        timing(reference.as_ref());
    }
    if want("clip") {
        clip();
    }
    println!("load average at end: {}", load_average());
}
