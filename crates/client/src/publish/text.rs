//! Post length as X counts it.

/// X's limit, in weighted characters.
pub const MAX_POST_LEN: usize = 280;

/// Every URL counts as this many characters, whatever its length, because
/// X wraps it in a t.co link.
pub const URL_LEN: usize = 23;

/// The length of `text` as X counts it (twitter-text's v3 configuration):
/// a URL counts [`URL_LEN`]; a character in Latin, Greek, Cyrillic,
/// Hebrew, Arabic and the general punctuation ranges counts 1; any other
/// (CJK, emoji) counts 2.
///
/// Emoji built of several code points (flags, skin tones, families) count 2
/// per code point here where X counts the whole sequence as 2, so the
/// result is never below X's: a post this function accepts, X accepts.
#[must_use]
pub fn weighted_len(text: &str) -> usize {
    let mut len = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let url_at = url_start(rest);
        let (plain, tail) = rest.split_at(url_at.unwrap_or(rest.len()));
        len += plain.chars().map(char_weight).sum::<usize>();
        if url_at.is_none() {
            break;
        }
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        len += URL_LEN;
        rest = &tail[end..];
    }
    len
}

fn url_start(text: &str) -> Option<usize> {
    ["https://", "http://"]
        .iter()
        .filter_map(|scheme| {
            text.match_indices(scheme)
                .map(|(i, _)| i)
                .find(|&i| i == 0 || text[..i].ends_with(char::is_whitespace))
        })
        .min()
}

fn char_weight(c: char) -> usize {
    match u32::from(c) {
        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_counts_one_cjk_and_emoji_two() {
        assert_eq!(weighted_len("hello"), 5);
        assert_eq!(weighted_len("日本"), 4);
        assert_eq!(weighted_len("🔥"), 2);
        assert_eq!(weighted_len("é—“x”"), 5);
    }

    #[test]
    fn urls_count_twenty_three() {
        assert_eq!(
            weighted_len("see https://example.com/a/very/long/path/indeed?x=1"),
            4 + 23
        );
        assert_eq!(weighted_len("http://a.b and https://c.d"), 23 + 5 + 23);
        assert_eq!(weighted_len("xhttps://not-a-url"), 18);
    }

    #[test]
    fn the_limit_holds_at_the_boundary() {
        assert_eq!(weighted_len(&"a".repeat(280)), MAX_POST_LEN);
        assert_eq!(weighted_len(&"日".repeat(140)), MAX_POST_LEN);
    }
}
