//! A structural check of an MP4's box tree before re_mp4 parses it.
//!
//! re_mp4 trusts child box sizes: a child claiming more bytes than its
//! parent holds makes it allocate that much (`vec![0; size]` in `meta`,
//! found by libFuzzer asking for 2.8 GB), and sizes under the header's own
//! length make it loop or underflow. This walks the headers of every
//! container re_mp4 descends into (reading headers only, never `mdat`) and
//! refuses such sizes first.

use std::io::{Read, Seek, SeekFrom};

/// Boxes whose payload is a sequence of child boxes.
const CONTAINERS: [&[u8; 4]; 12] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"udta", b"mvex", b"edts", b"moof",
    b"traf", b"ilst",
];

/// Video sample entries, whose child boxes (`avcC`…) start after 78 bytes
/// of fields. (Audio entries vary in length with their version; re_mp4's
/// own checks and the read budget cover them.)
fn sample_entry_fields(name: &[u8; 4]) -> Option<u64> {
    match name {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"av01" | b"vp08" | b"vp09" | b"mp4v" | b"encv" => {
            Some(78)
        }
        _ => None,
    }
}

/// Nesting deeper than this is refused (real files nest about 8 deep).
const MAX_DEPTH: u32 = 24;

/// Checks the boxes in `start..end`; `top` is the file level, where a size
/// of 0 means "to the end of the file".
pub(crate) fn check<R: Read + Seek>(
    r: &mut R,
    start: u64,
    end: u64,
    depth: u32,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("boxes nest too deep".into());
    }
    let top = depth == 0;
    let mut pos = start;
    while pos < end {
        let left = end - pos;
        if left < 8 {
            // Trailing bytes at file level are re_mp4's to judge; inside a
            // box they are a cut header.
            return if top {
                Ok(())
            } else {
                Err(format!("a box header at byte {pos} is cut short"))
            };
        }
        let mut head = [0u8; 8];
        r.seek(SeekFrom::Start(pos))
            .and_then(|_| r.read_exact(&mut head))
            .map_err(|e| e.to_string())?;
        let name: [u8; 4] = [head[4], head[5], head[6], head[7]];
        let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 if top => (left, 8),
            1 => {
                let mut large = [0u8; 8];
                r.read_exact(&mut large).map_err(|e| e.to_string())?;
                (u64::from_be_bytes(large), 16)
            }
            s => (u64::from(s), 8),
        };
        let shown = String::from_utf8_lossy(&name).into_owned();
        if size < header || size > left {
            return Err(format!(
                "box `{shown}` at byte {pos} claims {size} bytes where {left} remain"
            ));
        }
        let body = pos + header;
        let body_end = pos + size;
        if CONTAINERS.contains(&&name) {
            check(r, body, body_end, depth + 1)?;
        } else if &name == b"meta" {
            // A full box (4 bytes of version and flags) in ISO files, a
            // plain container in some QuickTime ones.
            check(r, body + 4, body_end, depth + 1)
                .or_else(|_| check(r, body, body_end, depth + 1))?;
        } else if &name == b"stsd" {
            // Version, flags and an entry count, then the sample entries.
            check(r, body + 8, body_end, depth + 1)?;
            let mut entry = body + 8;
            while entry + 8 <= body_end {
                let mut h = [0u8; 8];
                r.seek(SeekFrom::Start(entry))
                    .and_then(|_| r.read_exact(&mut h))
                    .map_err(|e| e.to_string())?;
                let entry_size = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
                let entry_name = [h[4], h[5], h[6], h[7]];
                if let Some(fields) = sample_entry_fields(&entry_name)
                    && entry_size >= 8 + fields
                {
                    check(r, entry + 8 + fields, entry + entry_size, depth + 2)?;
                } else if sample_entry_fields(&entry_name).is_some() {
                    return Err(format!(
                        "sample entry at byte {entry} is {entry_size} bytes, too short"
                    ));
                }
                entry += entry_size.max(8);
            }
        }
        pos = body_end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn mp4_box(name: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(name);
        b.extend_from_slice(payload);
        b
    }

    fn run(bytes: &[u8]) -> Result<(), String> {
        check(&mut Cursor::new(bytes), 0, bytes.len() as u64, 0)
    }

    #[test]
    fn accepts_sound_nesting_and_refuses_oversized_or_tiny_children() {
        let trak = mp4_box(b"trak", &mp4_box(b"tkhd", &[0; 20]));
        let good = [mp4_box(b"ftyp", b"isom"), mp4_box(b"moov", &trak)].concat();
        assert_eq!(run(&good), Ok(()));

        let mut huge_child = mp4_box(b"udta", &mp4_box(b"meta", &[0; 12]));
        huge_child[8..12].copy_from_slice(&0xA000_0000u32.to_be_bytes());
        let err = run(&mp4_box(b"moov", &huge_child)).unwrap_err();
        assert!(err.contains("claims"), "{err}");

        let mut zero_child = mp4_box(b"moov", &mp4_box(b"mvhd", &[0; 8]));
        zero_child[8..12].copy_from_slice(&0u32.to_be_bytes());
        assert!(run(&zero_child).is_err());
    }

    #[test]
    fn checks_inside_video_sample_entries() {
        let mut avcc = mp4_box(b"avcC", &[1, 2, 3]);
        avcc[0..4].copy_from_slice(&5000u32.to_be_bytes());
        let avc1 = mp4_box(b"avc1", &[[0u8; 78].as_slice(), &avcc].concat());
        let stsd = mp4_box(b"stsd", &[[0u8; 8].as_slice(), &avc1].concat());
        let err = run(&mp4_box(b"stbl", &stsd)).unwrap_err();
        assert!(err.contains("avcC"), "{err}");
    }
}
