//! Splitting a text into chunks of whole lines, and the word-counting rule.

/// Lines `first_line ..` of the text, handed to one `wordcount` task as its `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub index: usize,
    /// 1-based number of the chunk's first line in the text.
    pub first_line: usize,
    pub line_count: usize,
    pub bytes: Vec<u8>,
}

/// Cuts `text` after every `lines_per_chunk` newlines. Cutting only at line ends means no word
/// is ever split between two chunks, so the chunks' counts add up to the whole text's.
pub fn split_into_chunks(text: &[u8], lines_per_chunk: usize) -> Vec<Chunk> {
    let lines_per_chunk = lines_per_chunk.max(1);
    let lines: Vec<&[u8]> = text.split_inclusive(|byte| *byte == b'\n').collect();
    lines
        .chunks(lines_per_chunk)
        .enumerate()
        .map(|(index, group)| Chunk {
            index,
            first_line: index * lines_per_chunk + 1,
            line_count: group.len(),
            bytes: group.concat(),
        })
        .collect()
}

/// Words are runs of bytes other than ASCII whitespace: the rule of the `wordcount` guest and,
/// for ASCII text without vertical tabs, of `wc -w`.
pub fn count_words(text: &[u8]) -> u64 {
    let words = text
        .split(u8::is_ascii_whitespace)
        .filter(|word| !word.is_empty())
        .count();
    words as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_text_exactly_once() {
        let text = b"a b\nc\n\nd e f\ng";
        let chunks = split_into_chunks(text, 2);
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(joined, text);
        let shape: Vec<(usize, usize)> = chunks
            .iter()
            .map(|c| (c.first_line, c.line_count))
            .collect();
        assert_eq!(shape, [(1, 2), (3, 2), (5, 1)]);
        let sum: u64 = chunks.iter().map(|c| count_words(&c.bytes)).sum();
        assert_eq!(sum, count_words(text));
        assert_eq!(sum, 7);
    }

    #[test]
    fn an_empty_text_has_no_chunks_and_zero_lines_means_one() {
        assert!(split_into_chunks(b"", 10).is_empty());
        assert_eq!(split_into_chunks(b"x\ny\n", 0).len(), 2);
    }

    #[test]
    fn every_ascii_whitespace_separates_words() {
        assert_eq!(count_words(b" one\ttwo\r\nthree\x0cfour  "), 4);
        assert_eq!(count_words(b"\xff\xfe bytes"), 2);
    }
}
