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
    for (row, out_row) in out.chunks_exact_mut(w * 3).enumerate() {
        let y_row = &y[row * ys..row * ys + w];
        let c = (row / 2) * uvs;
        let (u_row, v_row) = (&u[c..c + w.div_ceil(2)], &v[c..c + w.div_ceil(2)]);
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            // Fixed point, 16 fractional bits: R = 1.164(Y-16) + 1.596(V-128)…
            let c = (i32::from(y_row[x]) - 16) * 76_309;
            let d = i32::from(u_row[x / 2]) - 128;
            let e = i32::from(v_row[x / 2]) - 128;
            let clamp = |value: i32| ((value + 32_768) >> 16).clamp(0, 255) as u8;
            px[0] = clamp(c + 104_597 * e);
            px[1] = clamp(c - 25_675 * d - 53_279 * e);
            px[2] = clamp(c + 132_201 * d);
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
                assert!(a.abs_diff(*b) <= 2, "{:?} decoded to {:?}", (y, u, v), &out[..3]);
            }
        }
    }
}
