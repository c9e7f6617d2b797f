// Vocabulary loaded from GGUF `tokenizer.ggml.*` metadata: token texts, scores, attributes,
// special ids and the flags that steer tokenization, resolved with llama.cpp's rules.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenizer.h"

namespace nagare {

class GgufFile;

// Token attributes (llama_token_attr): a token may carry several.
enum TokenAttr : uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
};

// Hash map from token text with std::string_view lookups (no temporary strings).
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextMap = std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>>;

struct Vocab {
  enum class Kind { kSpm, kBpe, kWpm };
  Kind kind = Kind::kSpm;
  PreTokenizer pre = PreTokenizer::kDefault;  // BPE only

  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<uint32_t> attr;
  TextMap text_to_id;  // a text that occurs twice maps to its last id, as in llama.cpp

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1;
  int32_t sep = -1;  // WordPiece's [SEP], appended after the text
  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  // WordPiece (BertNormalizer): lower-case the text; drop accents (NFD base letters, no marks).
  bool lowercase = false;
  bool strip_accents = false;
  bool add_space_prefix = false;  // SPM: prepend ' ' to text at the start and after specials
  bool clean_spaces = false;      // detokenize: drop spaces before punctuation ("a ." -> "a.")
  bool ignore_merges = false;     // BPE: a word that is a whole token skips the merges
  std::vector<uint8_t> is_eog;    // per id

  // Ids that text is split on before tokenizing (control, user-defined, unknown), in the order
  // llama.cpp tries them: longest text first.
  std::vector<int32_t> special_order;

  // BPE merge ranks keyed by "left right".
  TextMap merge_rank;

  // Byte-fallback id per byte value (-1 when the vocab has none).
  int32_t byte_token[256];

  // Piece of each token as llama_token_to_piece(id, special=true) gives it, packed.
  std::string piece_data;
  std::vector<uint32_t> piece_offset;  // size n + 1

  int32_t size() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const {
    auto it = text_to_id.find(s);
    return it == text_to_id.end() ? -1 : it->second;
  }
  std::string_view piece(int32_t id) const {
    return std::string_view(piece_data).substr(piece_offset[id],
                                               piece_offset[id + 1] - piece_offset[id]);
  }

  // Throws Error for a tokenizer model or pre-tokenizer that nagare does not implement.
  static Vocab load(const GgufFile& file);
};

}  // namespace nagare
