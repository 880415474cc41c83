//! Ids from people's names: a list from a resident or staff system gives names as people
//! write them ("Åsa Öberg"), and ids are `a-z 0-9 - _` (at most 64), so an id is made from
//! the name when none is given: letters without their marks (å ä → a, ö → o, é → e, ß →
//! ss), everything else between words as one `-`, lower case.

use crate::core::ids::MAX_ID_LEN;

/// The id made from `name`; `None` when nothing of it can be used (no letter or digit).
pub fn id_from_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'å' | 'ä' | 'à' | 'á' | 'â' | 'ã' | 'ā' => "a",
            'ö' | 'ø' | 'ò' | 'ó' | 'ô' | 'õ' => "o",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'ü' | 'ú' | 'ù' | 'û' => "u",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ç' | 'č' => "c",
            'ñ' | 'ń' => "n",
            'š' | 'ś' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ł' => "l",
            'ß' => "ss",
            'æ' => "ae",
            'ý' | 'ÿ' => "y",
            c if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' => {
                if gap && !out.is_empty() {
                    out.push('-');
                }
                gap = false;
                out.push(c);
                continue;
            }
            _ => {
                gap = true;
                continue;
            }
        };
        if gap && !out.is_empty() {
            out.push('-');
        }
        gap = false;
        out.push_str(plain);
    }
    let mut id: String = out.chars().take(MAX_ID_LEN).collect();
    while id.ends_with('-') {
        id.pop();
    }
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swedish_names_become_ids_without_marks_and_with_one_dash_between_words() {
        assert_eq!(id_from_name("Åsa Öberg").as_deref(), Some("asa-oberg"));
        assert_eq!(id_from_name("  Zoë  Lindén-Ähr ").as_deref(), Some("zoe-linden-ahr"));
        assert_eq!(id_from_name("Lgh 1101").as_deref(), Some("lgh-1101"));
        assert_eq!(id_from_name("Jürgen Straße").as_deref(), Some("jurgen-strasse"));
        assert_eq!(id_from_name("—"), None);
        assert!(id_from_name(&"å".repeat(100)).is_some_and(|id| id.len() == MAX_ID_LEN));
    }
}
