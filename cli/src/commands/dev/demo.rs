//! `wasmesos dev --demo`: the word-count framework counts a text on the local cluster.
//!
//! The `wordcount` component and the text are embedded in the binary (`cli/assets/`,
//! rebuilt by `scripts/demo-component.sh`), so a copied `wasmesos` runs the demo without
//! the source tree; `--demo-component` and `--demo-text` replace either.

use std::path::{Path, PathBuf};

use anyhow::Context;
use wordcount_framework::{BUNDLED_TEXT_CONTENTS, WordCountConfig, count_text, count_words};

/// The `wordcount` guest of `examples/guests`, built for wasm32-wasip2.
pub const WORDCOUNT_COMPONENT: &[u8] = include_bytes!("../../../assets/wordcount.wasm");

/// What the demo counts and with which component.
#[derive(Debug, Clone, Default)]
pub struct DemoInputs {
    /// The `wordcount` component; the embedded one when `None`.
    pub component: Option<PathBuf>,
    /// The text; the embedded Genesis and Exodus when `None`.
    pub text: Option<PathBuf>,
    pub lines_per_chunk: usize,
}

/// Runs the word count, prints its table and returns whether the total matches the text's
/// own count.
pub async fn run(master_url: &str, scratch: &Path, inputs: &DemoInputs) -> anyhow::Result<bool> {
    let component = match &inputs.component {
        Some(path) => path.clone(),
        None => {
            let path = scratch.join("wordcount.wasm");
            std::fs::write(&path, WORDCOUNT_COMPONENT)
                .with_context(|| format!("cannot write {}", path.display()))?;
            path
        }
    };
    let (text, name) = match &inputs.text {
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            (text, path.display().to_string())
        }
        None => (
            BUNDLED_TEXT_CONTENTS.to_vec(),
            "the bundled text (Genesis and Exodus, KJV)".to_string(),
        ),
    };
    let lines = inputs.lines_per_chunk;
    println!("\nword count of {name} in chunks of {lines} lines:");
    let config = WordCountConfig {
        lines_per_chunk: lines,
        ..WordCountConfig::new(master_url, component)
    };
    let report = count_text(&config, &text).await?;
    print!("{}", report.table());
    let expected = count_words(&text);
    let matches = expected == report.total;
    let verdict = if matches { "matches" } else { "DIFFERS from" };
    println!("the total {verdict} `wc -w` of the text ({expected})");
    Ok(matches)
}
