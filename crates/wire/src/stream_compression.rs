//! netdata's compressed stream (1.37): LZ4 blocks behind a 4-byte header,
//! each block decoded against what the blocks before it decoded.
//!
//! When a child and its parent agree on compression, everything the child
//! sends after the handshake is a sequence of blocks. A block is:
//!
//! ```text
//! 0xFA  0x80|(size & 0x7f)  0x80|((size >> 7) & 0x7f)  '\n'   size bytes of LZ4 block data
//! ```
//!
//! The data is one block of LZ4's *streaming* API
//! (`LZ4_compress_fast_continue`): its matches may reach back into the
//! output of earlier blocks, up to 64 KiB. A frame-format decoder does not
//! read it; this one keeps the last 64 KiB of output and hands it to
//! `lz4_flex` as the block's external dictionary.
//!
//! [`StreamDecompressor::feed`] takes bytes as they come from the socket
//! (cut anywhere) and calls back with each block's decompressed bytes.
//! Memory is bounded: one pending block (at most 16 KiB + header), the
//! 64 KiB window, and one output buffer.

/// The first byte of a block header (`'z' | 0x80`).
pub const SIGNATURE_FIRST_BYTE: u8 = b'z' | 0x80;

/// Size of a block header.
pub const HEADER_LEN: usize = 4;

/// The largest compressed size a header can state (14 bits).
pub const MAX_BLOCK_LEN: usize = (1 << 14) - 1;

/// How far back an LZ4 match may reach.
const WINDOW: usize = 64 * 1024;

/// The most one block may decompress to (netdata compresses at most 16 KiB
/// of input at a time; the bound leaves room).
pub const MAX_DECOMPRESSED_LEN: usize = 64 * 1024;

/// What can be wrong with a compressed stream. After an error the stream
/// cannot be resynchronised: the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamCompressionError {
    /// Four bytes that are not a block header.
    #[error("bad compressed block header {header:02x?}")]
    BadHeader {
        /// The four bytes found.
        header: [u8; HEADER_LEN],
    },
    /// A header stating an empty block.
    #[error("compressed block of size 0")]
    EmptyBlock,
    /// LZ4 refused the block (corrupt, or larger than
    /// [`MAX_DECOMPRESSED_LEN`]).
    #[error("LZ4 block {block} of {len} bytes does not decompress: {reason}")]
    Corrupt {
        /// Blocks decoded before this one.
        block: u64,
        /// Its compressed size.
        len: usize,
        /// What LZ4 said.
        reason: String,
    },
}

/// Decodes netdata's compressed stream (see the [module docs](self)).
///
/// ```
/// use wire::stream_compression::StreamDecompressor;
///
/// // "hi\n" as one LZ4 block of 4 literal bytes: token 0x30 then the literals.
/// let block = [0xfa, 0x80 | 4, 0x80, b'\n', 0x30, b'h', b'i', b'\n'];
/// let mut decoder = StreamDecompressor::new();
/// let mut out = Vec::new();
/// decoder.feed(&block, |bytes| out.extend_from_slice(bytes)).unwrap();
/// assert_eq!(out, b"hi\n");
/// ```
#[derive(Debug)]
pub struct StreamDecompressor {
    /// Bytes of the header and block being received.
    pending: Vec<u8>,
    /// The last output, at most 2 × [`WINDOW`] (trimmed to [`WINDOW`] when
    /// it grows past that).
    history: Vec<u8>,
    /// Where a block is decompressed to.
    output: Vec<u8>,
    blocks: u64,
    compressed_bytes: u64,
    decompressed_bytes: u64,
}

impl Default for StreamDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecompressor {
    /// A decoder at the start of a stream.
    pub fn new() -> StreamDecompressor {
        StreamDecompressor {
            pending: Vec::with_capacity(HEADER_LEN + MAX_BLOCK_LEN),
            history: Vec::with_capacity(2 * WINDOW),
            output: vec![0; MAX_DECOMPRESSED_LEN],
            blocks: 0,
            compressed_bytes: 0,
            decompressed_bytes: 0,
        }
    }

    /// Blocks decoded so far.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Compressed bytes consumed so far (headers included).
    pub fn compressed_bytes(&self) -> u64 {
        self.compressed_bytes
    }

    /// Bytes decompressed so far.
    pub fn decompressed_bytes(&self) -> u64 {
        self.decompressed_bytes
    }

    /// Whether a block is partly received.
    pub fn is_mid_block(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Consumes `input` (any cut of the stream); calls `out` with each
    /// complete block's decompressed bytes, in order.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        mut out: impl FnMut(&[u8]),
    ) -> Result<(), StreamCompressionError> {
        self.compressed_bytes += input.len() as u64;
        while !input.is_empty() {
            if self.pending.len() < HEADER_LEN {
                let take = (HEADER_LEN - self.pending.len()).min(input.len());
                self.pending.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.pending.len() < HEADER_LEN {
                    break;
                }
                self.block_len()?;
            }
            let wanted = HEADER_LEN + self.block_len()?;
            let take = (wanted - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == wanted {
                let len = self.decode_pending()?;
                out(&self.output[..len]);
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// The block size the pending header states.
    fn block_len(&self) -> Result<usize, StreamCompressionError> {
        let header: [u8; HEADER_LEN] = [
            self.pending[0],
            self.pending[1],
            self.pending[2],
            self.pending[3],
        ];
        if header[0] != SIGNATURE_FIRST_BYTE
            || header[1] & 0x80 == 0
            || header[2] & 0x80 == 0
            || header[3] != b'\n'
        {
            return Err(StreamCompressionError::BadHeader { header });
        }
        let len = usize::from(header[1] & 0x7f) | (usize::from(header[2] & 0x7f) << 7);
        if len == 0 {
            return Err(StreamCompressionError::EmptyBlock);
        }
        Ok(len)
    }

    /// Decompresses the pending block into `output`, appends it to the
    /// history; returns its length.
    fn decode_pending(&mut self) -> Result<usize, StreamCompressionError> {
        let block = &self.pending[HEADER_LEN..];
        let dict_start = self.history.len().saturating_sub(WINDOW);
        let len = lz4_flex::block::decompress_into_with_dict(
            block,
            &mut self.output,
            &self.history[dict_start..],
        )
        .map_err(|error| StreamCompressionError::Corrupt {
            block: self.blocks,
            len: block.len(),
            reason: error.to_string(),
        })?;
        if self.history.len() + len > 2 * WINDOW {
            self.history.drain(..dict_start);
        }
        self.history.extend_from_slice(&self.output[..len]);
        self.blocks += 1;
        self.decompressed_bytes += len as u64;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: usize) -> [u8; 4] {
        [
            SIGNATURE_FIRST_BYTE,
            0x80 | (len & 0x7f) as u8,
            0x80 | ((len >> 7) & 0x7f) as u8,
            b'\n',
        ]
    }

    /// Compresses `chunks` as dependent blocks (each against the ones
    /// before, as LZ4's streaming API does) using the dictionary variant of
    /// the block compressor.
    fn compress_stream(chunks: &[&[u8]]) -> Vec<u8> {
        let mut stream = Vec::new();
        let mut history: Vec<u8> = Vec::new();
        for chunk in chunks {
            let dict_start = history.len().saturating_sub(WINDOW);
            let block = lz4_flex::block::compress_with_dict(chunk, &history[dict_start..]);
            stream.extend_from_slice(&header(block.len()));
            stream.extend_from_slice(&block);
            history.extend_from_slice(chunk);
        }
        stream
    }

    #[test]
    fn blocks_refer_to_earlier_blocks_and_any_cut_decodes() {
        let line = b"BEGIN \"system.cpu\" 1000000\nSET \"user\" = 12\nEND\n";
        let chunks: Vec<Vec<u8>> = (0..50).map(|_| line.repeat(3)).collect();
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let stream = compress_stream(&chunk_refs);
        let expected = chunks.concat();
        assert!(
            stream.len() < expected.len() / 4,
            "later blocks are matches"
        );
        for cut in [1, 3, 4, 5, 17, 1000, stream.len()] {
            let mut decoder = StreamDecompressor::new();
            let mut out = Vec::new();
            for piece in stream.chunks(cut) {
                decoder
                    .feed(piece, |bytes| out.extend_from_slice(bytes))
                    .unwrap();
            }
            assert_eq!(out, expected, "cut {cut}");
            assert_eq!(decoder.blocks(), 50);
            assert!(!decoder.is_mid_block());
        }
    }

    #[test]
    fn a_long_stream_keeps_its_window_bounded() {
        let mut decoder = StreamDecompressor::new();
        let chunks: Vec<Vec<u8>> = (0..400u32)
            .map(|i| {
                format!("SET \"d{i}\" = {}\n", i * 7)
                    .repeat(40)
                    .into_bytes()
            })
            .collect();
        let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let stream = compress_stream(&chunk_refs);
        let mut total = 0;
        decoder.feed(&stream, |bytes| total += bytes.len()).unwrap();
        assert_eq!(total, chunks.iter().map(Vec::len).sum::<usize>());
        assert!(decoder.history.len() <= 2 * WINDOW);
    }

    #[test]
    fn bad_headers_and_corrupt_blocks_are_errors() {
        let mut decoder = StreamDecompressor::new();
        assert!(matches!(
            decoder.feed(b"BEGIN x\n", |_| {}),
            Err(StreamCompressionError::BadHeader { .. })
        ));
        let mut decoder = StreamDecompressor::new();
        assert_eq!(
            decoder.feed(&header(0), |_| {}),
            Err(StreamCompressionError::EmptyBlock)
        );
        let mut decoder = StreamDecompressor::new();
        let mut stream = header(3).to_vec();
        stream.extend_from_slice(&[0xf0, 0xff, 0xff]);
        assert!(matches!(
            decoder.feed(&stream, |_| {}),
            Err(StreamCompressionError::Corrupt { .. })
        ));
        // A match reaching before the start of the stream.
        let mut decoder = StreamDecompressor::new();
        let mut stream = header(4).to_vec();
        stream.extend_from_slice(&[0x04, 0x10, 0x00, 0x00]);
        assert!(decoder.feed(&stream, |_| {}).is_err());
    }
}
