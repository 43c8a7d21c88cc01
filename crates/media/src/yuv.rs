//! I420 to RGB8 (BT.601, limited range: what libx264 and openh264 use
//! unless a stream says otherwise).

/// I420 planes to packed RGB8. `ys`/`uvs` are the luma and chroma strides.
pub(crate) fn i420_to_rgb8(
    y: &[u8],
    u: &[u8],
    v: &[u8],
    w: usize,
    h: usize,
    ys: usize,
    uvs: usize,
) -> Vec<u8> {
    let mut out = vec![0u8; w * h * 3];
    let cw = w.div_ceil(2);
    for (row, out_row) in out.chunks_exact_mut(w * 3).enumerate() {
        let y_row = &y[row * ys..row * ys + w];
        let c = (row / 2) * uvs;
        let (u_row, v_row) = (&u[c..c + cw], &v[c..c + cw]);
        // Two pixels share one chroma sample: its terms are computed once.
        // Fixed point, 16 fractional bits: R = 1.164(Y-16) + 1.596(V-128)…
        let pairs = out_row
            .chunks_mut(6)
            .zip(y_row.chunks(2))
            .zip(u_row.iter().zip(v_row));
        for ((px, luma), (&cb, &cr)) in pairs {
            let d = i32::from(cb) - 128;
            let e = i32::from(cr) - 128;
            let (r, g, b) = (104_597 * e, -25_675 * d - 53_279 * e, 132_201 * d);
            for (p, &l) in px.chunks_exact_mut(3).zip(luma) {
                let l = (i32::from(l) - 16) * 76_309 + 32_768;
                p[0] = ((l + r) >> 16).clamp(0, 255) as u8;
                p[1] = ((l + g) >> 16).clamp(0, 255) as u8;
                p[2] = ((l + b) >> 16).clamp(0, 255) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bt601_primaries_decode_to_their_colours() {
        // (Y, Cb, Cr) of pure red, green, blue, white and black, limited range.
        let cases = [
            ((81, 90, 240), [255, 0, 0]),
            ((145, 54, 34), [0, 255, 0]),
            ((41, 240, 110), [0, 0, 255]),
            ((235, 128, 128), [255, 255, 255]),
            ((16, 128, 128), [0, 0, 0]),
        ];
        for ((y, u, v), rgb) in cases {
            let out = i420_to_rgb8(&[y; 4], &[u], &[v], 2, 2, 2, 1);
            for (a, b) in out.iter().zip(rgb.iter().cycle()) {
                assert!(
                    a.abs_diff(*b) <= 2,
                    "{:?} decoded to {:?}",
                    (y, u, v),
                    &out[..3]
                );
            }
        }
    }

    #[test]
    fn odd_width_and_padded_strides() {
        // 3x3 white with strides 4 (luma) and 3 (chroma, 2 used).
        let out = i420_to_rgb8(&[235; 12], &[128; 6], &[128; 6], 3, 3, 4, 3);
        assert_eq!(out, vec![255; 27]);
    }
}
