//! The lexical pieces of our Telegram HTML (tags, entities, characters) and what each shows.

/// One lexical piece of our HTML: a tag, an entity, or one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Atom<'a> {
    Open { name: &'a str, raw: &'a str },
    Close { name: &'a str, raw: &'a str },
    Text(&'a str),
}

impl<'a> Atom<'a> {
    pub(super) fn raw(&self) -> &'a str {
        match self {
            Atom::Open { raw, .. } | Atom::Close { raw, .. } | Atom::Text(raw) => raw,
        }
    }

    /// UTF-16 units Telegram counts against its limit: text after entity parsing, no markup.
    pub(super) fn width(&self) -> usize {
        match self {
            Atom::Open { .. } | Atom::Close { .. } => 0,
            Atom::Text(text) => match decode_entity(text) {
                Some(c) => c.len_utf16(),
                None => text.encode_utf16().count(),
            },
        }
    }
}

/// Splits HTML into atoms; a malformed `<` or `&` is taken as one text character.
pub(super) fn atoms(html: &str) -> Atoms<'_> {
    Atoms { rest: html }
}

pub(super) struct Atoms<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Atoms<'a> {
    type Item = Atom<'a>;

    fn next(&mut self) -> Option<Atom<'a>> {
        let rest = self.rest;
        let c = rest.chars().next()?;
        let len = match c {
            '<' => rest.find('>').map(|end| end + 1),
            // Entities are short: looking no further keeps a text full of `&` linear.
            '&' => rest
                .bytes()
                .take(11)
                .position(|b| b == b';')
                .filter(|end| !rest[1..*end].contains(['<', '&', ' ']))
                .map(|end| end + 1),
            _ => None,
        }
        .unwrap_or(c.len_utf8());
        let raw = &rest[..len];
        self.rest = &rest[len..];
        Some(if c == '<' && len > 1 {
            let inner = &raw[1..raw.len() - 1];
            match inner.strip_prefix('/') {
                Some(name) => Atom::Close {
                    name: name.trim(),
                    raw,
                },
                None => Atom::Open {
                    name: inner.split_whitespace().next().unwrap_or(""),
                    raw,
                },
            }
        } else {
            Atom::Text(raw)
        })
    }
}

/// The character a named or numeric entity stands for; `None` for anything else.
pub(super) fn decode_entity(text: &str) -> Option<char> {
    let name = text.strip_prefix('&')?.strip_suffix(';')?;
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// UTF-16 units of visible text, as Telegram counts a message's length.
pub fn visible_len(html: &str) -> usize {
    atoms(html).map(|atom| atom.width()).sum()
}

/// True when the HTML shows nothing but whitespace (Telegram refuses such a message).
pub fn is_blank(html: &str) -> bool {
    atoms(html).all(|atom| match atom {
        Atom::Text(text) => match decode_entity(text) {
            Some(c) => c.is_whitespace(),
            None => text.chars().all(char::is_whitespace),
        },
        Atom::Open { .. } | Atom::Close { .. } => true,
    })
}
