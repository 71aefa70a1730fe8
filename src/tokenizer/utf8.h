// UTF-8 helpers for the tokenizer: the GPT-2 byte <-> unicode mapping used by
// byte-level BPE vocabularies, and the reference's lenient decoding of input
// text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace glint::tokenizer {

// Appends the UTF-8 encoding of `cpt` (any value up to 0x10FFFF).
void AppendUtf8(uint32_t cpt, std::string* out);

// Byte-level BPE stores every byte as a printable code point (GPT-2's
// bytes_to_unicode): bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for
// themselves, the other 68 bytes map, in byte order, to U+0100..U+0143.
uint32_t ByteToCodepoint(uint8_t byte);
// The byte a code point stands for, or -1 if it is not one of the 256.
int CodepointToByte(uint32_t cpt);

// Length of the well-formed UTF-8 sequence at the start of `s` (1..4), 0 if
// `s` starts with an incomplete but so far valid sequence, or -1 if the first
// byte cannot start a well-formed sequence here (Unicode Table 3-7: no
// overlongs, no surrogates, nothing above U+10FFFF).
int Utf8SequenceLength(std::string_view s);

// The reference (llama.cpp) decodes input text leniently before
// pre-tokenization: each byte that does not start a sequence of the right
// shape becomes U+FFFD, and overlong forms decode to their code point. This
// returns the text re-encoded that way, or nullopt when the text is already
// well-formed UTF-8 (the common case, no copy). glint deviates only for
// sequences that decode to surrogates or to values above U+10FFFF, which
// become U+FFFD here (the reference cannot re-encode the latter either).
std::optional<std::string> SanitizeUtf8LikeReference(std::string_view text);

}  // namespace glint::tokenizer
