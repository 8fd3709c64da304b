//! The result of a word count: one row per chunk and the total.

use std::fmt::Write;

/// What one chunk's successful task counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkResult {
    pub chunk: usize,
    pub first_line: usize,
    pub line_count: usize,
    pub task_id: String,
    pub agent_id: String,
    pub words: u64,
    /// Launches it took, counting the successful one.
    pub attempts: u32,
}

/// Every chunk's count and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub rows: Vec<ChunkResult>,
    pub total: u64,
    /// How many tasks were launched again after a failure or loss.
    pub relaunches: u32,
}

impl Report {
    pub fn new(rows: Vec<ChunkResult>, relaunches: u32) -> Self {
        let total = rows.iter().map(|row| row.words).sum();
        Report {
            rows,
            total,
            relaunches,
        }
    }

    /// Agents that ran at least one counted chunk, in order of first appearance.
    pub fn agents(&self) -> Vec<&str> {
        let mut agents: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !agents.contains(&row.agent_id.as_str()) {
                agents.push(&row.agent_id);
            }
        }
        agents
    }

    /// A per-task table with aligned columns, then the total.
    pub fn table(&self) -> String {
        let header = ["chunk", "lines", "task", "agent", "tries", "words"];
        let rows: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|row| {
                let last_line = row.first_line + row.line_count.saturating_sub(1);
                [
                    row.chunk.to_string(),
                    format!("{}-{}", row.first_line, last_line),
                    row.task_id.clone(),
                    row.agent_id.clone(),
                    row.attempts.to_string(),
                    row.words.to_string(),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let mut out = String::new();
        push_row(&mut out, &header.map(String::from), &widths);
        for row in &rows {
            push_row(&mut out, row, &widths);
        }
        let _ = writeln!(
            out,
            "total: {} words in {} chunks on {} agents ({} relaunched)",
            self.total,
            self.rows.len(),
            self.agents().len(),
            self.relaunches
        );
        out
    }
}

/// Text columns left-aligned, the numeric last column right-aligned.
fn push_row(out: &mut String, cells: &[String; 6], widths: &[usize; 6]) {
    let last = cells.len() - 1;
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        let _ = if index == last {
            writeln!(out, "{cell:>width$}")
        } else {
            write!(out, "{cell:<width$}  ")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns_and_ends_with_the_total() {
        let row = |chunk: usize, agent: &str, words: u64| ChunkResult {
            chunk,
            first_line: chunk * 10 + 1,
            line_count: 10,
            task_id: format!("chunk-{chunk}"),
            agent_id: agent.into(),
            words,
            attempts: 1,
        };
        let report = Report::new(vec![row(0, "a1", 7), row(1, "agent-two", 12345)], 0);
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].len(), lines[1].len());
        assert_eq!(lines[1].len(), lines[2].len());
        assert!(lines[2].ends_with("12345"));
        assert_eq!(
            lines[3],
            "total: 12352 words in 2 chunks on 2 agents (0 relaunched)"
        );
    }
}
