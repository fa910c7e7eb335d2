//! Outcome features: the coverage proxy. Each execution reports a set of short
//! strings describing what happened (result kind, normalised error text, shape
//! of what was parsed, which follow-up checks ran). An input whose execution
//! shows a feature never seen before is kept in the corpus.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::Hasher;

/// The features of one execution, as hashes.
#[derive(Default)]
pub struct Features {
    hashes: Vec<u64>,
    scratch: String,
    /// Keep the feature texts too (for `--show-features`).
    pub keep_text: bool,
    texts: Vec<String>,
}

impl Features {
    /// Forgets the previous execution's features.
    pub fn clear(&mut self) {
        self.hashes.clear();
        self.texts.clear();
    }

    /// Records one feature.
    pub fn add(&mut self, args: std::fmt::Arguments<'_>) {
        self.scratch.clear();
        let _ = self.scratch.write_fmt(args);
        let mut h = DefaultHasher::new();
        h.write(self.scratch.as_bytes());
        self.hashes.push(h.finish());
        if self.keep_text {
            self.texts.push(self.scratch.clone());
        }
    }

    /// The feature texts, when kept.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// The recorded hashes.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }
}

/// `feat!(f, "fmt", args…)` records a formatted feature.
#[macro_export]
macro_rules! feat {
    ($f:expr, $($arg:tt)*) => {
        $f.add(format_args!($($arg)*))
    };
}

/// Reduces an error message to a template: everything from the first to the
/// last double quote (and likewise back-tick) becomes `""`, digit runs become
/// `#`, at most 160 characters. Messages quote user input without escaping,
/// so pairing quotes is not reliable; this is coarse on purpose, so that
/// "unknown field `a`" and "unknown field `b`" count as one outcome.
pub fn normalize(msg: &str) -> String {
    let mut s = msg.to_owned();
    for q in ['"', '`'] {
        if let (Some(a), Some(b)) = (s.find(q), s.rfind(q)) {
            if b > a {
                s.replace_range(a..=b, if q == '"' { "\"\"" } else { "``" });
            }
        }
    }
    let mut out = String::with_capacity(s.len().min(160));
    let mut last_digit = false;
    for c in s.chars() {
        if out.len() >= 160 {
            break;
        }
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
        } else {
            out.push(c);
            last_digit = false;
        }
    }
    out
}

/// A power-of-two size class, for lengths and counts.
pub fn bucket(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variable parts of messages (quoted text, numbers) are dropped from outcome templates.
    #[test]
    fn templates() {
        assert_eq!(
            normalize("unknown field `abc`, expected `id` at line 1 column 23"),
            "unknown field `` at line # column #"
        );
        assert_eq!(normalize(r#"bad "a"b" 12x"#), r#"bad "" #x"#);
    }
}
