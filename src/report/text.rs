//! Cleaning a text a machine printed, field by field, at ingestion: what a terminal would have
//! interpreted (escape sequences, controls) and what would make a page read one text as another
//! (bidirectional controls) is removed; everything else, markup and quotes included, is kept
//! as sent and escaped wherever it is shown. A report is never refused for its characters.

/// What a field holds: one line (a name, a version, a machine field) or prose that may span
/// lines (an error description).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Line breaks and tabs become spaces; the ends are trimmed.
    One,
    /// Line breaks (as LF) and tabs are kept.
    Many,
}

const ESC: char = '\u{1b}';
const BEL: char = '\u{7}';
/// What ends a line once CR is read as LF: LF, and Unicode's line and paragraph separators.
const BREAKS: [char; 3] = ['\n', '\u{2028}', '\u{2029}'];

/// `text` cleaned for a field of the given kind:
/// - ANSI/terminal escape sequences removed (CSI `ESC [ ... final`, OSC `ESC ] ... BEL or
///   ESC \`, other `ESC x`);
/// - CR LF and a lone CR become LF; every other control but TAB and LF (C0, DEL, C1) is
///   removed, and so are bidirectional controls and U+FEFF;
/// - in a one-line field, a line break with the spaces and tabs around it becomes one space
///   (so `"3.6.15 (default, ...) \n[GCC 12.2.0]"` reads `"3.6.15 (default, ...) [GCC 12.2.0]"`),
///   any other tab one space, and the ends are trimmed.
pub fn clean(text: &str, lines: Lines) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => skip_escape(&mut chars),
            '\r' => {
                // CR LF and a lone CR are both one line break; so is CR NUL LF NUL, UTF-16
                // text (WSL's bash.exe) read as bytes.
                while chars.peek().is_some_and(|&c| c != ESC && is_removed(c)) {
                    chars.next();
                }
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                kept.push('\n');
            }
            c if is_removed(c) => {}
            c => kept.push(c),
        }
    }
    match lines {
        Lines::Many => kept,
        Lines::One if !kept.contains(BREAKS) && !kept.contains('\t') && kept.trim() == kept => kept,
        Lines::One => {
            let joined = kept
                .split(BREAKS)
                .map(|line| line.trim_matches([' ', '\t']))
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
                .replace('\t', " ");
            joined.trim().to_owned()
        }
    }
}

/// Characters cleaning drops wherever they are: controls other than TAB, LF and CR (which
/// cleaning turns into something else), bidirectional controls, and the byte-order mark.
fn is_removed(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Whether cleaning a one-line field removes or changes `c` wherever it stands (surrounding
/// whitespace aside): what a workshop id may not hold.
pub(crate) fn is_unclean(c: char) -> bool {
    is_removed(c) || matches!(c, '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// Skips what follows an ESC that a terminal would read as part of its sequence. A sequence
/// that is cut short ends where its grammar stops matching, so a stray ESC never swallows
/// the text after it (an unterminated OSC ends at the line's end).
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let in_range = |c: Option<&char>, low: u8, high: u8| {
        c.is_some_and(|&c| (char::from(low)..=char::from(high)).contains(&c))
    };
    match chars.peek() {
        // CSI: parameters and intermediates (0x20-0x3F), then one final byte (0x40-0x7E).
        Some('[') => {
            chars.next();
            while in_range(chars.peek(), 0x20, 0x3F) {
                chars.next();
            }
            if in_range(chars.peek(), 0x40, 0x7E) {
                chars.next();
            }
        }
        // OSC: anything up to BEL or ESC \ (the string terminator).
        Some(']') => {
            chars.next();
            while let Some(&c) = chars.peek() {
                match c {
                    BEL => {
                        chars.next();
                        break;
                    }
                    ESC => {
                        chars.next();
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                    '\n' | '\r' => break,
                    _ => {
                        chars.next();
                    }
                }
            }
        }
        // nF sequences (`ESC ( B`): intermediates, then one final byte.
        Some(' '..='/') => {
            while in_range(chars.peek(), 0x20, 0x2F) {
                chars.next();
            }
            if in_range(chars.peek(), 0x30, 0x7E) {
                chars.next();
            }
        }
        // Any other two-byte sequence (`ESC c`, `ESC 7`, `ESC \`).
        Some('0'..='~') => {
            chars.next();
        }
        // An ESC before a control, a non-ASCII character or the end: the ESC alone.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_removed() {
        for (sent, kept) in [
            ("\u{1b}[31mred\u{1b}[0m", "red"),
            ("\u{1b}[1;31mTraceback\u{1b}[m:", "Traceback:"),
            ("\u{1b}[2J\u{1b}[H2.0", "2.0"),
            ("\u{1b}[38;5;196mx\u{1b}[39m", "x"),
            ("\u{1b}]0;title\u{7}text", "text"),
            ("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            ("\u{1b}(Bplain", "plain"),
            ("\u{1b}cafter reset", "after reset"),
            ("cut \u{1b}[", "cut"),
            ("cut \u{1b}", "cut"),
            ("\u{1b}[\u{e9}t\u{e9}", "\u{e9}t\u{e9}"),
            ("\u{1b}]unterminated\nnext line", "next line"),
        ] {
            assert_eq!(clean(sent, Lines::One), kept, "{sent:?}");
        }
    }

    #[test]
    fn controls_and_direction_characters_are_removed() {
        assert_eq!(clean("a\u{0}b\u{7}c\u{7f}d\u{85}e", Lines::One), "abcde");
        assert_eq!(
            clean("n\u{0}o\u{0}\r\u{0}\n\u{0}w\u{0}s\u{0}l\u{0}", Lines::Many),
            "no\nwsl"
        );
        assert_eq!(clean("evil\u{202e}gnp.exe", Lines::One), "evilgnp.exe");
        assert_eq!(
            clean("\u{feff}Git \u{2066}(git)\u{2069}", Lines::One),
            "Git (git)"
        );
        assert_eq!(clean("\u{200f}\u{200e}\u{61c}x", Lines::One), "x");
    }

    #[test]
    fn one_line_fields_turn_breaks_and_tabs_into_spaces() {
        assert_eq!(
            clean(
                "3.6.15 (default, May  9 2026, 07:30:54) \n[GCC 12.2.0]",
                Lines::One
            ),
            "3.6.15 (default, May  9 2026, 07:30:54) [GCC 12.2.0]"
        );
        assert_eq!(clean("a\n\nb \t\r\n c\t\td", Lines::One), "a b c  d");
        assert_eq!(clean("2.7.4\r\n", Lines::One), "2.7.4");
        assert_eq!(clean("a\tb\rc\u{2028}d", Lines::One), "a b c d");
        assert_eq!(clean("  \n\t ", Lines::One), "");
    }

    #[test]
    fn prose_keeps_its_lines_as_lf_and_its_tabs() {
        assert_eq!(
            clean("line 1\r\n\tline 2\rline 3\u{2028}\n", Lines::Many),
            "line 1\n\tline 2\nline 3\u{2028}\n"
        );
        assert_eq!(
            clean("\u{1b}[31mError\u{1b}[0m: <b>&\"'", Lines::Many),
            "Error: <b>&\"'"
        );
    }
}
