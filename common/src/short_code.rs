//! The short ticket code: what door staff type when a QR code cannot be scanned. Ten Crockford
//! base32 characters (50 bits), shown grouped like `K7QM-2XRD-9F`. The code is derived from the
//! ticket token with SHA-256 under its own label, so the ticket page and the ticket e-mail
//! (which both hold the token) can show it, while the database keeps only the code's hash and
//! neither hash reveals the other. It is bound to the reservation like the token and revoked
//! with it; alone it is useless, since only staff credentials can check a code in.

use sha2::{Digest, Sha256};

use crate::token::TokenHash;

/// Crockford's base32 alphabet: no I, L, O or U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code: 10 × 5 = 50 random bits.
pub const CODE_LEN: usize = 10;

/// A short code in canonical form (upper case, no separators).
#[derive(Clone, PartialEq, Eq)]
pub struct ShortCode(String);

impl ShortCode {
    /// The code of a ticket token.
    pub fn for_ticket(ticket_token: &str) -> ShortCode {
        let digest = Sha256::new()
            .chain_update(b"azione short ticket code\0")
            .chain_update(ticket_token.as_bytes())
            .finalize();
        let bits = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
        let code = (0..CODE_LEN)
            .map(|i| ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize] as char)
            .collect();
        ShortCode(code)
    }

    /// Reads a typed code: case-insensitive, dashes and spaces ignored, and the letters
    /// Crockford reads as digits (O as 0, I and L as 1) accepted.
    pub fn parse(presented: &str) -> Option<ShortCode> {
        let mut code = String::with_capacity(CODE_LEN);
        for c in presented
            .chars()
            .filter(|c| *c != '-' && !c.is_whitespace())
        {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || code.len() == CODE_LEN {
                return None;
            }
            code.push(c);
        }
        (code.len() == CODE_LEN).then_some(ShortCode(code))
    }

    /// How the code is shown: `K7QM-2XRD-9F`.
    pub fn grouped(&self) -> String {
        format!("{}-{}-{}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }

    /// The digest stored in the database.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::RawToken;

    #[test]
    fn a_ticket_has_one_stable_code_that_parses_back_however_it_is_typed() {
        let ticket = RawToken::generate();
        let code = ShortCode::for_ticket(ticket.expose());
        assert!(code == ShortCode::for_ticket(ticket.expose()));
        let shown = code.grouped();
        assert_eq!(shown.len(), 12);
        assert_eq!(&shown[4..5], "-");
        for typed in [
            shown.clone(),
            shown.to_lowercase(),
            shown.replace('-', " "),
            shown.replace('-', ""),
            format!("  {}  ", shown.replace('0', "o").replace('1', "l")),
        ] {
            assert!(ShortCode::parse(&typed) == Some(code.clone()), "{typed:?}");
        }
        assert!(ShortCode::for_ticket(RawToken::generate().expose()) != code);
    }

    #[test]
    fn anything_else_is_not_a_code() {
        for s in [
            "",
            "K7QM-2XRD-9",
            "K7QM-2XRD-9FF",
            "K7QM-2XRD-9U",
            "K7QM-2XRD-9!",
            "K7QM-2XRD-9É",
        ] {
            assert!(ShortCode::parse(s).is_none(), "{s:?}");
        }
        assert!(ShortCode::parse(&"a".repeat(43)).is_none());
    }
}
