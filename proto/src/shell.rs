//! A command line without a shell, as Mesos's `CommandInfo.shell = true` and Marathon's `cmd`
//! are run on wasmesos: `value` is split into words as a POSIX shell
//! would (quotes, backslashes), and anything a shell would interpret beyond that (pipes,
//! redirections, `;`, `&&`, `$(...)`, backticks, variables, globs) is refused, since a Wasm
//! task has no shell to run it.

/// Longest command line accepted.
pub const MAX_COMMAND_LEN: usize = 64 * 1024;

/// Why a command line cannot run without a shell.
#[derive(Debug, PartialEq, Eq)]
pub struct NoShell(pub String);

impl std::fmt::Display for NoShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoShell {}

fn refuse(what: &str, command: &str) -> NoShell {
    NoShell(format!(
        "command '{command}' uses {what}, which needs a shell; wasmesos runs the program \
         directly (no shell): give the program and its arguments only, or shell=false"
    ))
}

/// The words of `command`, or why it needs a real shell.
pub fn split_words(command: &str) -> Result<Vec<String>, NoShell> {
    if command.len() > MAX_COMMAND_LEN {
        return Err(NoShell(format!(
            "command is {} bytes, at most {MAX_COMMAND_LEN} are accepted",
            command.len()
        )));
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(inner) => word.push(inner),
                        None => return Err(NoShell(format!("unterminated ' in '{command}'"))),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('"' | '\\' | '$' | '`')) => word.push(escaped),
                            Some('\n') => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                            None => {
                                return Err(NoShell(format!("unterminated \" in '{command}'")));
                            }
                        },
                        Some('$') => return Err(refuse("'$' expansion", command)),
                        Some('`') => return Err(refuse("backticks", command)),
                        Some(inner) => word.push(inner),
                        None => return Err(NoShell(format!("unterminated \" in '{command}'"))),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(escaped) => {
                    in_word = true;
                    word.push(escaped);
                }
                None => return Err(NoShell(format!("trailing \\ in '{command}'"))),
            },
            '|' => return Err(refuse("a pipe or '||'", command)),
            '&' => return Err(refuse("'&' or '&&'", command)),
            ';' => return Err(refuse("';'", command)),
            '<' | '>' => return Err(refuse("a redirection", command)),
            '$' => return Err(refuse("'$' expansion", command)),
            '`' => return Err(refuse("backticks", command)),
            '(' | ')' => return Err(refuse("a subshell", command)),
            '*' | '?' | '[' => return Err(refuse("a glob", command)),
            '#' if !in_word => return Err(refuse("a comment", command)),
            '~' if !in_word => return Err(refuse("'~' expansion", command)),
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err(NoShell(
            "command.value is empty: name the program to run".into(),
        ));
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_with_quotes_and_escapes() {
        assert_eq!(
            split_words(r#"hello.wasm  --name 'a b' "c \"d\"" e\ f"#).expect("words"),
            vec!["hello.wasm", "--name", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(split_words("prog ''").expect("words"), vec!["prog", ""]);
    }

    #[test]
    fn refuses_what_needs_a_shell() {
        for command in [
            "a | b",
            "a && b",
            "a; b",
            "a > out",
            "a < in",
            "echo $(date)",
            "echo `date`",
            "echo $HOME",
            "echo \"$HOME\"",
            "ls *.txt",
            "a &",
            "(a)",
        ] {
            let err = split_words(command).expect_err(command);
            assert!(err.0.contains("no shell"), "{command}: {err}");
        }
        assert!(split_words("   ").is_err());
        assert!(split_words("'open").is_err());
        assert!(split_words(&"a".repeat(MAX_COMMAND_LEN + 1)).is_err());
    }
}
