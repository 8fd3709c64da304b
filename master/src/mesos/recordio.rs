//! RecordIO, Mesos's framing of a stream of messages (`docs/recordio.md`): each record is its
//! length in bytes as decimal ASCII, a `\n`, then the bytes. The master writes one record per
//! HTTP chunk; [`Decoder`] reads them back with a bound on each record's size, for clients
//! and tests of the stream.

use bytes::{Buf, Bytes, BytesMut};

/// `record` framed: `<len>\n<record>`.
pub fn frame(record: &[u8]) -> Bytes {
    let header = format!("{}\n", record.len());
    let mut out = BytesMut::with_capacity(header.len().saturating_add(record.len()));
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(record);
    out.freeze()
}

/// Longest length header: 20 digits hold any `u64`.
const MAX_HEADER_DIGITS: usize = 20;

/// Why a RecordIO stream cannot be read further.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordIoError {
    #[error("record length header is not a decimal number")]
    BadHeader,
    #[error("record of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
}

/// Splits incoming bytes into records, refusing any record longer than `max_record`.
#[derive(Debug)]
pub struct Decoder {
    buffer: BytesMut,
    max_record: usize,
}

impl Decoder {
    pub fn new(max_record: usize) -> Self {
        Self {
            buffer: BytesMut::new(),
            max_record,
        }
    }

    /// Appends `data` and returns every record now complete. After an error the stream is
    /// unusable: a wrong header leaves no way to find the next record.
    pub fn feed(&mut self, data: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        self.buffer.extend_from_slice(data);
        let mut records = Vec::new();
        loop {
            let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') else {
                if self.buffer.len() > MAX_HEADER_DIGITS {
                    return Err(RecordIoError::BadHeader);
                }
                return Ok(records);
            };
            let header = self.buffer.get(..newline).unwrap_or_default();
            if header.is_empty()
                || header.len() > MAX_HEADER_DIGITS
                || !header.iter().all(u8::is_ascii_digit)
            {
                return Err(RecordIoError::BadHeader);
            }
            let len: u64 = std::str::from_utf8(header)
                .ok()
                .and_then(|h| h.parse().ok())
                .ok_or(RecordIoError::BadHeader)?;
            let size = usize::try_from(len)
                .ok()
                .filter(|size| *size <= self.max_record)
                .ok_or(RecordIoError::TooLarge {
                    len,
                    max: self.max_record,
                })?;
            let start = newline.saturating_add(1);
            if self.buffer.len().saturating_sub(start) < size {
                return Ok(records);
            }
            self.buffer.advance(start);
            records.push(self.buffer.split_to(size).freeze());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_reads_back_records_split_anywhere() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&frame(b"{\"type\":\"HEARTBEAT\"}"));
        stream.extend_from_slice(&frame(b""));
        stream.extend_from_slice(&frame(b"hello"));
        assert!(stream.starts_with(b"20\n{"));
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            let mut decoder = Decoder::new(1024);
            let mut records = decoder.feed(a).expect("first half");
            records.extend(decoder.feed(b).expect("second half"));
            assert_eq!(records.len(), 3, "split at {split}");
            assert_eq!(&records[2][..], b"hello");
        }
    }

    #[test]
    fn refuses_oversized_records_and_garbage_headers() {
        let mut decoder = Decoder::new(4);
        assert_eq!(
            decoder.feed(b"5\nhello"),
            Err(RecordIoError::TooLarge { len: 5, max: 4 })
        );
        assert_eq!(Decoder::new(4).feed(b"x\n"), Err(RecordIoError::BadHeader));
        assert_eq!(
            Decoder::new(4).feed(b"123456789012345678901234"),
            Err(RecordIoError::BadHeader)
        );
        // More than a u64 holds.
        assert_eq!(
            Decoder::new(4).feed(b"99999999999999999999\n"),
            Err(RecordIoError::BadHeader)
        );
    }
}
