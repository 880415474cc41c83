//! Ids from people's names: a list from a resident or staff system gives names as people
//! write them ("Åsa Öberg"), and ids are `a-z 0-9 - _` (at most 64), so an id is made from
//! the name when none is given: letters without their marks (å ä → a, ö → o, é → e, ş → s,
//! ß → ss), everything else between words as one `-`, lower case. A name with a letter it
//! cannot write plainly (another script) makes no id: the id must then be given.

use crate::core::ids::MAX_ID_LEN;

/// The plain letters for a letter with marks (lower case), `None` for one not known here.
fn plain(c: char) -> Option<&'static str> {
    Some(match c {
        'å' | 'ä' | 'à' | 'á' | 'â' | 'ã' | 'ā' | 'ą' | 'ă' => "a",
        'ö' | 'ø' | 'ò' | 'ó' | 'ô' | 'õ' | 'ő' | 'ō' => "o",
        'é' | 'è' | 'ê' | 'ë' | 'ě' | 'ę' | 'ē' | 'ė' => "e",
        'ü' | 'ú' | 'ù' | 'û' | 'ů' | 'ű' | 'ū' => "u",
        'í' | 'ì' | 'î' | 'ï' | 'ı' | 'ī' | 'į' => "i",
        'ç' | 'č' | 'ć' => "c",
        'ñ' | 'ń' | 'ň' => "n",
        'š' | 'ś' | 'ş' | 'ș' => "s",
        'ž' | 'ź' | 'ż' => "z",
        'ł' => "l",
        'ğ' => "g",
        'ř' => "r",
        'ť' | 'ț' | 'ţ' => "t",
        'ď' | 'đ' | 'ð' => "d",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => return None,
    })
}

/// The id made from `name`; `None` when nothing of it can be used (no letter or digit),
/// or when it has a letter this does not know how to write plainly (`Шура`, `李`): then
/// the id must be given, rather than made with letters missing.
pub fn id_from_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        let part = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            c.encode_utf8(&mut [0; 4]).to_owned()
        } else if ('\u{300}'..='\u{36f}').contains(&c) {
            continue; // a combining mark (the dot of İ): the letter before it stands
        } else if let Some(p) = plain(c) {
            p.to_owned()
        } else if c.is_alphanumeric() {
            return None;
        } else {
            gap = true;
            continue;
        };
        if gap && !out.is_empty() {
            out.push('-');
        }
        gap = false;
        out.push_str(&part);
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
        assert_eq!(id_from_name("Şükrü Yılmaz").as_deref(), Some("sukru-yilmaz"));
        assert_eq!(id_from_name("İbrahim Đorđević").as_deref(), Some("ibrahim-dordevic"));
        assert_eq!(id_from_name("Шура Петрова"), None, "letters it cannot write plainly: the id must be given");
        assert!(id_from_name(&"å".repeat(100)).is_some_and(|id| id.len() == MAX_ID_LEN));
    }
}
