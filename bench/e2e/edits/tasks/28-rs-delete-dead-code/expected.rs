//! Vocabulary lookup for the byte-level BPE tokenizer.
//!
//! Token strings are stored with spaces encoded as U+2581 ("▁"), and bytes
//! that are not valid UTF-8 on their own are stored as `<0xNN>` tokens.

use std::collections::HashMap;
use std::fmt;

const SPACE_MARKER: char = '\u{2581}';

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VocabError {
    Duplicate(String),
    MissingByteToken(u8),
    UnknownId(u32),
}

impl fmt::Display for VocabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VocabError::Duplicate(s) => write!(f, "duplicate token {s:?}"),
            VocabError::MissingByteToken(b) => write!(f, "no token for byte 0x{b:02X}"),
            VocabError::UnknownId(id) => write!(f, "unknown token id {id}"),
        }
    }
}

impl std::error::Error for VocabError {}

pub struct Vocab {
    tokens: Vec<String>,
    by_text: HashMap<String, u32>,
    byte_tokens: [u32; 256],
}

fn byte_token_text(b: u8) -> String {
    format!("<0x{b:02X}>")
}

impl Vocab {
    /// Builds a vocabulary; every one of the 256 byte tokens must be present.
    pub fn new(tokens: Vec<String>) -> Result<Self, VocabError> {
        let mut by_text = HashMap::with_capacity(tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            if by_text.insert(t.clone(), id as u32).is_some() {
                return Err(VocabError::Duplicate(t.clone()));
            }
        }
        let mut byte_tokens = [0u32; 256];
        for b in 0..=255u8 {
            match by_text.get(&byte_token_text(b)) {
                Some(&id) => byte_tokens[b as usize] = id,
                None => return Err(VocabError::MissingByteToken(b)),
            }
        }
        Ok(Vocab {
            tokens,
            by_text,
            byte_tokens,
        })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn id_of(&self, text: &str) -> Option<u32> {
        self.by_text.get(text).copied()
    }

    pub fn byte_token(&self, b: u8) -> u32 {
        self.byte_tokens[b as usize]
    }

    /// Raw bytes a token stands for, with the space marker decoded.
    pub fn token_bytes(&self, id: u32) -> Result<Vec<u8>, VocabError> {
        let text = self
            .tokens
            .get(id as usize)
            .ok_or(VocabError::UnknownId(id))?;
        if let Some(hex) = text.strip_prefix("<0x").and_then(|s| s.strip_suffix('>')) {
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                return Ok(vec![b]);
            }
        }
        Ok(text.replace(SPACE_MARKER, " ").into_bytes())
    }

    /// Decodes a token sequence, replacing invalid UTF-8 with U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, VocabError> {
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend(self.token_bytes(id)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
