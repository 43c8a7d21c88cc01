//! H.264 decoding with openh264 through its raw `DecodeFrame2` API.
//!
//! openh264's high-level `Decoder::decode` calls `DecodeFrameNoDelay`, which
//! stops returning pictures a few frames into streams with B-frames
//! (openh264-rs issue #50), and ffmpeg's default libx264 output has
//! B-frames. Feeding every access unit to `DecodeFrame2` and, at the end,
//! setting the end-of-stream option and flushing the pictures still held for
//! reordering decodes them all, in presentation order. That API is only
//! reachable through `unsafe` calls on raw pointers, kept to this module.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::ptr::{addr_of_mut, null, null_mut};

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264_sys2::{
    DECODER_OPTION, DECODER_OPTION_END_OF_STREAM, DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
    SBufferInfo, dsBitstreamError, dsNoParamSets, dsOutOfMemory, dsRefListNullPtrs,
    videoFormatI420,
};

/// One decoded picture, converted to RGB8 out of the decoder's buffers.
pub(crate) struct Picture {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) rgb: Vec<u8>,
}

/// The decoder states that mean the bitstream is broken (as opposed to
/// "picture pending" or concealed, recoverable loss).
const FATAL: i32 = dsBitstreamError | dsNoParamSets | dsOutOfMemory | dsRefListNullPtrs;

/// A stateful Annex-B H.264 decoder that yields RGB8 pictures in
/// presentation order.
pub(crate) struct H264Decoder {
    decoder: Decoder,
    ready: VecDeque<Picture>,
    max_pixels: u64,
}

impl H264Decoder {
    pub(crate) fn new(max_pixels: u64) -> Result<Self, String> {
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| format!("cannot start the openh264 decoder: {e}"))?;
        Ok(Self {
            decoder,
            ready: VecDeque::new(),
            max_pixels,
        })
    }

    /// Decodes one access unit (Annex-B, start codes included). Pictures it
    /// completes are queued for [`Self::pop`].
    pub(crate) fn decode(&mut self, annex_b: &[u8]) -> Result<(), String> {
        let len = i32::try_from(annex_b.len()).map_err(|_| "access unit over 2 GiB".to_string())?;
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo::default();
        // SAFETY: `annex_b` outlives the call and `len` is its length; `dst`
        // and `info` are valid for writes; the decoder was initialised by
        // `Decoder::with_api_config` and is uninitialised only on drop.
        let state = unsafe {
            self.decoder.raw_api().decode_frame2(
                annex_b.as_ptr(),
                len,
                dst.as_mut_ptr(),
                &raw mut info,
            )
        };
        if state & FATAL != 0 {
            return Err(format!("decoder state {state:#x}"));
        }
        self.take(&dst, &info)
    }

    /// Signals the end of the stream and queues every picture still held
    /// for reordering.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        let mut end: DECODER_OPTION = 1;
        let mut dst = [null_mut::<u8>(); 3];
        let mut info = SBufferInfo::default();
        // SAFETY: as in `decode`; a null, zero-length input is how openh264
        // is asked to output what it holds once end of stream is set.
        unsafe {
            let api = self.decoder.raw_api();
            api.set_option(DECODER_OPTION_END_OF_STREAM, addr_of_mut!(end).cast());
            api.decode_frame2(null(), 0, dst.as_mut_ptr(), &raw mut info);
        }
        self.take(&dst, &info)?;
        // Bounded: the decoder holds at most its DPB (16 pictures), and each
        // flush removes one.
        for _ in 0..32 {
            let mut remaining: DECODER_OPTION = 0;
            // SAFETY: `remaining` is valid for writes.
            unsafe {
                self.decoder.raw_api().get_option(
                    DECODER_OPTION_NUM_OF_FRAMES_REMAINING_IN_BUFFER,
                    addr_of_mut!(remaining).cast(),
                );
            }
            if remaining <= 0 {
                break;
            }
            let mut dst = [null_mut::<u8>(); 3];
            let mut info = SBufferInfo::default();
            // SAFETY: as in `decode`.
            unsafe {
                self.decoder
                    .raw_api()
                    .flush_frame(dst.as_mut_ptr(), &raw mut info);
            }
            self.take(&dst, &info)?;
        }
        Ok(())
    }

    /// The next decoded picture, in presentation order.
    pub(crate) fn pop(&mut self) -> Option<Picture> {
        self.ready.pop_front()
    }

    /// Copies a picture out of the decoder's buffers, if one is ready.
    fn take(&mut self, dst: &[*mut u8; 3], info: &SBufferInfo) -> Result<(), String> {
        if info.iBufferStatus != 1 || dst.iter().any(|p| p.is_null()) {
            return Ok(());
        }
        // SAFETY: with iBufferStatus == 1, openh264 fills the system-buffer
        // member of the union.
        let sys = unsafe { info.UsrData.sSystemBuffer };
        if sys.iFormat != videoFormatI420 {
            return Err(format!("unexpected picture format {}", sys.iFormat));
        }
        let (w, h) = (sys.iWidth, sys.iHeight);
        let (ys, uvs) = (sys.iStride[0], sys.iStride[1]);
        if w <= 0 || h <= 0 || ys < w || uvs < (w + 1) / 2 {
            return Err(format!("picture {w}x{h} with strides {ys}/{uvs}"));
        }
        let (w, h, ys, uvs) = (w as usize, h as usize, ys as usize, uvs as usize);
        if (w * h) as u64 > self.max_pixels {
            return Err(format!("picture {w}x{h} is over the size limit"));
        }
        let ch = h.div_ceil(2);
        // SAFETY: openh264 guarantees planes of `stride * rows` bytes: Y has
        // `h` rows, U and V `ceil(h / 2)`; they stay valid until the next
        // call into the decoder, and we copy them out before that.
        let (y, u, v) = unsafe {
            (
                std::slice::from_raw_parts(dst[0], ys * (h - 1) + w),
                std::slice::from_raw_parts(dst[1], uvs * (ch - 1) + w.div_ceil(2)),
                std::slice::from_raw_parts(dst[2], uvs * (ch - 1) + w.div_ceil(2)),
            )
        };
        let rgb = crate::yuv::i420_to_rgb8(y, u, v, w, h, ys, uvs);
        self.ready.push_back(Picture {
            width: w as u32,
            height: h as u32,
            rgb,
        });
        Ok(())
    }
}
