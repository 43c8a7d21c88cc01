//! Base prompts and where they come from: plain text, JSON Lines, stdin.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A prompt to mutate, with an id that names it in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasePrompt {
    /// The id: given in the input, a built-in scene's name, or derived from
    /// the text (`p` and 12 hex digits).
    pub id: String,
    /// The prompt text.
    pub prompt: String,
    /// Free-form tags carried to every variant.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl BasePrompt {
    /// A base prompt whose id is derived from its text.
    pub fn new(prompt: impl Into<String>) -> Self {
        let prompt = prompt.into();
        BasePrompt {
            id: crate::id::base_id(&prompt),
            prompt,
            tags: Vec::new(),
        }
    }
}

/// How to read a prompt input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Each line that starts with `{` is JSON, any other line is plain text.
    #[default]
    Auto,
    /// One prompt per line. Blank lines and lines starting with `#` are skipped.
    Text,
    /// One JSON object per line: `{"id"?: "…", "prompt": "…", "tags"?: ["…"]}`.
    /// Blank lines are skipped; other fields are ignored.
    JsonLines,
}

/// The default limit on a prompt's length, in characters.
pub const DEFAULT_MAX_PROMPT_LEN: usize = 2000;

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    id: Option<String>,
    prompt: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// A streaming reader of base prompts: an iterator of
/// `Result<BasePrompt>` that holds one line at a time.
///
/// Errors name the source, the line and the problem; after the first error
/// the iterator ends. An input with no prompt at all yields
/// [`Error::EmptyInput`]. A line is never read past a bound derived from the
/// prompt limit, so a file without newlines cannot exhaust memory.
#[derive(Debug)]
pub struct PromptReader<R> {
    reader: R,
    source_name: String,
    format: InputFormat,
    max_len: usize,
    line: u64,
    yielded: u64,
    buf: Vec<u8>,
    done: bool,
}

impl PromptReader<BufReader<File>> {
    /// Opens a file. Its name appears in errors.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(PromptReader::new(
            BufReader::new(file),
            path.display().to_string(),
        ))
    }
}

impl PromptReader<io::StdinLock<'static>> {
    /// Reads standard input, named `<stdin>` in errors.
    pub fn stdin() -> Self {
        PromptReader::new(io::stdin().lock(), "<stdin>")
    }
}

impl<R: BufRead> PromptReader<R> {
    /// Reads prompts from `reader`; `source_name` names it in errors.
    pub fn new(reader: R, source_name: impl Into<String>) -> Self {
        PromptReader {
            reader,
            source_name: source_name.into(),
            format: InputFormat::Auto,
            max_len: DEFAULT_MAX_PROMPT_LEN,
            line: 0,
            yielded: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Sets the input format (default [`InputFormat::Auto`]).
    #[must_use]
    pub fn format(mut self, format: InputFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the longest prompt accepted, in characters
    /// (default [`DEFAULT_MAX_PROMPT_LEN`]).
    #[must_use]
    pub fn max_prompt_len(mut self, chars: usize) -> Self {
        self.max_len = chars;
        self
    }

    fn fail(&mut self, err: Error) -> Option<Result<BasePrompt>> {
        self.done = true;
        Some(Err(err))
    }

    fn too_long(&self, length: usize, read_whole: bool) -> Error {
        Error::PromptTooLong {
            source_name: self.source_name.clone(),
            line: self.line,
            length,
            read_whole,
            limit: self.max_len,
        }
    }

    /// Parses one line that holds something; `None` for a skipped line.
    fn parse_line(&self, text: &str) -> Result<Option<BasePrompt>> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let json = match self.format {
            InputFormat::JsonLines => true,
            InputFormat::Text => false,
            InputFormat::Auto => trimmed.starts_with('{'),
        };
        let base = if json {
            let record: Record =
                serde_json::from_str(trimmed).map_err(|e| Error::MalformedJson {
                    source_name: self.source_name.clone(),
                    line: self.line,
                    // Columns count from the line's start, not the trimmed text's.
                    column: e.column() + (text.len() - text.trim_start().len()),
                    message: json_message(&e),
                })?;
            let prompt = record.prompt.trim().to_owned();
            if prompt.is_empty() {
                return Err(Error::EmptyPrompt {
                    source_name: self.source_name.clone(),
                    line: self.line,
                });
            }
            let mut base = match record.id {
                Some(id) if !id.trim().is_empty() => BasePrompt {
                    id: id.trim().to_owned(),
                    prompt,
                    tags: Vec::new(),
                },
                _ => BasePrompt::new(prompt),
            };
            base.tags = record.tags;
            base
        } else if trimmed.starts_with('#') {
            return Ok(None);
        } else {
            BasePrompt::new(trimmed)
        };
        let length = base.prompt.chars().count();
        if length > self.max_len {
            return Err(self.too_long(length, true));
        }
        Ok(Some(base))
    }
}

impl<R: BufRead> Iterator for PromptReader<R> {
    type Item = Result<BasePrompt>;

    fn next(&mut self) -> Option<Self::Item> {
        // A JSON line holds escapes and fields besides the prompt: allow
        // room for them, but never an unbounded line.
        let cap = (self.max_len as u64)
            .saturating_mul(8)
            .saturating_add(64 * 1024);
        while !self.done {
            self.buf.clear();
            let read = (&mut self.reader)
                .take(cap)
                .read_until(b'\n', &mut self.buf);
            match read {
                Err(source) => {
                    let path = self.source_name.clone();
                    return self.fail(Error::Io { path, source });
                }
                Ok(0) => {
                    self.done = true;
                    if self.yielded == 0 {
                        let source_name = self.source_name.clone();
                        return Some(Err(Error::EmptyInput { source_name }));
                    }
                    return None;
                }
                Ok(n) => {
                    self.line += 1;
                    if n as u64 == cap && self.buf.last() != Some(&b'\n') {
                        let err = self.too_long(n, false);
                        return self.fail(err);
                    }
                }
            }
            let line = match std::str::from_utf8(&self.buf) {
                Ok(line) => line,
                Err(e) => {
                    let err = Error::InvalidUtf8 {
                        source_name: self.source_name.clone(),
                        line: self.line,
                        column: e.valid_up_to() + 1,
                    };
                    return self.fail(err);
                }
            };
            let line = line
                .strip_prefix('\u{feff}')
                .filter(|_| self.line == 1)
                .unwrap_or(line);
            match self.parse_line(line) {
                Ok(None) => continue,
                Ok(Some(base)) => {
                    self.yielded += 1;
                    return Some(Ok(base));
                }
                Err(err) => return self.fail(err),
            }
        }
        None
    }
}

/// serde_json's message without its " at line 1 column N" suffix, which
/// would name the line within the line.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rsplit_once(" at line ") {
        Some((msg, _)) => msg.to_owned(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &[u8]) -> Vec<Result<BasePrompt>> {
        PromptReader::new(input, "prompts.txt").collect()
    }

    fn err(input: &[u8]) -> String {
        read(input)
            .into_iter()
            .find_map(Result::err)
            .expect("an error")
            .to_string()
    }

    #[test]
    fn text_lines_comments_and_blank_lines() {
        let got: Vec<_> = read(b"# scenes\nA ball is thrown\n\n  A dog runs  \r\n")
            .into_iter()
            .map(|r| r.unwrap().prompt)
            .collect();
        assert_eq!(got, ["A ball is thrown", "A dog runs"]);
    }

    #[test]
    fn json_lines_with_ids_and_tags() {
        let got: Vec<_> = read(b"{\"id\":\"b1\",\"prompt\":\"A ball\",\"tags\":[\"x\"],\"note\":1}\n{\"prompt\":\"A dog\"}")
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got[0].id, "b1");
        assert_eq!(got[0].tags, ["x"]);
        assert_eq!(got[1].id, BasePrompt::new("A dog").id);
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        assert_eq!(
            err(b"fine\nab\xffcd\n"),
            "prompts.txt:2:3: invalid UTF-8: the byte at column 3 does not start a valid UTF-8 sequence"
        );
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = err(b"A ball\n{\"prompt\": \"A dog\",}\n");
        assert!(e.starts_with("prompts.txt:2:"), "{e}");
        assert!(e.contains("malformed JSON: trailing comma"), "{e}");
        let e = err(b"{\"promt\": \"A dog\"}\n");
        assert!(e.contains("missing field `prompt`"), "{e}");
    }

    #[test]
    fn empty_json_prompt() {
        assert_eq!(
            err(b"{\"prompt\": \"  \"}"),
            "prompts.txt:1: the prompt is empty"
        );
    }

    #[test]
    fn prompt_over_the_limit() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 30));
        let got: Vec<_> = PromptReader::new(&input[..], "p.txt")
            .max_prompt_len(20)
            .collect();
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "p.txt:2: prompt is 30 characters long, over the limit of 20 characters (raise the limit with --max-prompt-len)"
        );
    }

    #[test]
    fn a_line_without_end_is_not_read_whole() {
        let input = vec![b'x'; 200_000];
        let got: Vec<_> = PromptReader::new(&input[..], "p.txt")
            .max_prompt_len(10)
            .collect();
        assert_eq!(got.len(), 1);
        let Err(err) = &got[0] else {
            panic!("{:?}", got[0])
        };
        assert!(
            matches!(err, Error::PromptTooLong { length, read_whole: false, .. } if *length < 200_000)
        );
        // A length that is only where reading stopped is not stated as the
        // prompt's length.
        let text = err.to_string();
        assert!(
            text.contains("line is longer than")
                && text.contains("not read further")
                && !text.contains("characters long"),
            "{text}"
        );
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(
            err(b"\n# nothing\n"),
            "prompts.txt: no prompts (blank lines and lines starting with # are skipped)"
        );
    }

    #[test]
    fn errors_end_the_stream() {
        let got = read(b"ok\n\xff\nnever read\n");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let got = read("\u{feff}A ball\n".as_bytes());
        assert_eq!(got[0].as_ref().unwrap().prompt, "A ball");
    }
}
