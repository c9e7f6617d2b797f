// Vocab::load: reads tokenizer.ggml.* and applies llama.cpp's defaults, overrides and
// special-token heuristics (llama_vocab::impl::load), so ids match llama.cpp's.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "gguf/gguf_file.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace nagare {
namespace {

// GGUF token types (llama_token_type).
enum : int64_t {
  kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeUserDefined = 4, kTypeUnused = 5,
  kTypeByte = 6,
};

struct PreInfo {
  const char* name;
  PreTokenizer pre;
  bool clean_spaces;
  bool ignore_merges;
  bool add_bos;
};

// The `tokenizer.ggml.pre` values nagare implements, with llama.cpp's flags for each.
constexpr PreInfo kPreTokenizers[] = {
    {"default", PreTokenizer::kDefault, true, false, false},
    {"llama3", PreTokenizer::kLlama3, true, true, true},
    {"llama-v3", PreTokenizer::kLlama3, true, true, true},
    {"llama-bpe", PreTokenizer::kLlama3, true, true, true},
    {"falcon3", PreTokenizer::kLlama3, true, true, true},
    {"pixtral", PreTokenizer::kLlama3, true, true, true},
    {"dbrx", PreTokenizer::kLlama3, true, false, false},
    {"smaug-bpe", PreTokenizer::kLlama3, true, false, false},
    {"gpt-2", PreTokenizer::kGpt2, true, false, false},
    {"phi-2", PreTokenizer::kGpt2, true, false, false},
    {"mpt", PreTokenizer::kGpt2, true, false, false},
    {"olmo", PreTokenizer::kGpt2, true, false, false},
    {"smollm", PreTokenizer::kSmollm, false, false, false},
    {"starcoder", PreTokenizer::kSmollm, true, false, false},
    {"refact", PreTokenizer::kSmollm, true, false, false},
    {"command-r", PreTokenizer::kSmollm, false, false, false},
    {"codeshell", PreTokenizer::kSmollm, true, false, false},
    {"qwen2", PreTokenizer::kQwen2, false, false, false},
    {"deepseek-r1-qwen", PreTokenizer::kQwen2, false, false, false},
    {"stablelm2", PreTokenizer::kQwen2, true, false, false},
    {"gpt-4o", PreTokenizer::kGpt4o, false, false, false},  // gpt-oss and other o200k vocabs
    {"llama4", PreTokenizer::kGpt4o, false, false, false},
    {"kanana2", PreTokenizer::kGpt4o, false, false, false},
    {"talkie", PreTokenizer::kGpt4o, false, false, false},
};

const GgufArray* find_array(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) return nullptr;
  if (v->type != GgufValueType::ARRAY) throw Error(f.path() + ": '" + key + "' is not an array");
  return &v->as_array();
}

// llama.cpp's piece for `id` with special=true (llama_vocab::impl::token_to_piece).
std::string make_piece(const Vocab& v, int32_t id) {
  const uint32_t a = v.attr[id];
  const std::string& t = v.text[id];
  if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t;
  if (a & kAttrNormal) {
    std::string out;
    if (v.kind != Vocab::Kind::kBpe) {  // SPM and WordPiece: U+2581 stands for a space
      for (size_t i = 0; i < t.size();) {
        if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
          out.push_back(' ');
          i += 3;
        } else {
          out.push_back(t[i++]);
        }
      }
      return out;
    }
    // Byte-level BPE: each code point stands for one byte.
    std::vector<uint32_t> cps;
    unicode::decode_utf8(t, cps);
    for (uint32_t cp : cps) {
      const int b = unicode::codepoint_to_byte(cp);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
        continue;
      }
      std::string utf8;
      unicode::append_utf8(cp, utf8);
      static const char kHex[] = "0123456789abcdef";
      out += "[UNK_BYTE_0x";
      for (unsigned char c : utf8) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      out += t + "]";
    }
    return out;
  }
  if (a & kAttrByte) {
    // "<0xNN>": strtol over the two hex digits, as llama.cpp's token_to_byte.
    const std::string hex = t.size() >= 5 ? t.substr(3, 2) : std::string();
    return std::string(1, static_cast<char>(std::strtol(hex.c_str(), nullptr, 16)));
  }
  return {};
}

}  // namespace

Vocab Vocab::load(const GgufFile& f) {
  Vocab v;
  const std::string model = f.get_string("tokenizer.ggml.model", "");
  const std::string pre = f.get_string("tokenizer.ggml.pre", "");
  const std::string where = f.path() + ": ";

  const PreInfo* pre_info = nullptr;
  if (model == "llama") {
    v.kind = Kind::kSpm;
    v.bos = 1;
    v.eos = 2;
    v.unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else if (model == "gpt2") {
    v.kind = Kind::kBpe;
    v.bos = 11;  // llama.cpp's defaults for BPE vocabs without explicit ids
    v.eos = 11;
    v.clean_spaces = true;
    const std::string p = pre.empty() ? "default" : pre;
    for (const PreInfo& info : kPreTokenizers) {
      if (p == info.name) pre_info = &info;
    }
    if (!pre_info) {
      throw Error(where + "unsupported pre-tokenizer tokenizer.ggml.pre = '" + pre + "'");
    }
    v.pre = pre_info->pre;
    v.clean_spaces = pre_info->clean_spaces;
    v.ignore_merges = pre_info->ignore_merges;
    v.add_bos = pre_info->add_bos;
  } else if (model == "bert") {
    // WordPiece, with llama.cpp's defaults for it: [CLS] 101 as BOS, [SEP] 102 after the text.
    v.kind = Kind::kWpm;
    v.bos = 101;
    v.unk = 100;
    v.sep = 102;
    v.clean_spaces = true;
  } else {
    throw Error(where + "unsupported tokenizer model tokenizer.ggml.model = '" + model +
                "' (nagare supports 'llama' (SentencePiece), 'gpt2' (byte-level BPE) and 'bert' (WordPiece))");
  }
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);

  const GgufArray* tokens = find_array(f, "tokenizer.ggml.tokens");
  if (!tokens) throw Error(where + "no tokenizer.ggml.tokens in the model");
  const size_t n = tokens->size();
  if (n == 0 || n > size_t(1) << 30) throw Error(where + "bad vocabulary size " + std::to_string(n));

  const GgufArray* scores = find_array(f, "tokenizer.ggml.scores");
  if (scores && scores->size() < n) throw Error(where + "fewer scores than tokens");
  const GgufArray* types = find_array(f, "tokenizer.ggml.token_type");
  if (types && types->size() < n) throw Error(where + "fewer token types than tokens");

  v.text.resize(n);
  v.score.assign(n, 0.0f);
  v.attr.assign(n, kAttrNormal);
  v.text_to_id.reserve(n);
  if (tokens->elem_type() != GgufValueType::STRING) throw Error(where + "tokenizer.ggml.tokens is not strings");
  for (size_t i = 0; i < n; ++i) {
    std::string word(tokens->string_at(i));
    if (word.empty()) word = "[EMPTY_" + std::to_string(i) + "]";
    v.text_to_id[word] = static_cast<int32_t>(i);
    v.text[i] = std::move(word);
    if (scores) v.score[i] = static_cast<float>(scores->float_at(i));
    if (types) {
      switch (types->int_at(i)) {
        case kTypeUnknown: v.attr[i] = kAttrUnknown; break;
        case kTypeUnused: v.attr[i] = kAttrUnused; break;
        case kTypeNormal: v.attr[i] = kAttrNormal; break;
        case kTypeControl: v.attr[i] = kAttrControl; break;
        case kTypeUserDefined: v.attr[i] = kAttrUserDefined; break;
        case kTypeByte: v.attr[i] = kAttrByte; break;
        default: v.attr[i] = 0; break;
      }
    }
  }

  if (v.kind == Kind::kBpe) {
    const GgufArray* merges = find_array(f, "tokenizer.ggml.merges");
    if (!merges) throw Error(where + "no tokenizer.ggml.merges in a BPE model");
    v.merge_rank.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const std::string_view m = merges->string_at(i);
      // Split at the first space after the first character; a line without one is kept as the
      // pair ("", ""), which never matches.
      const size_t pos = m.find(' ', 1);
      std::string key = pos == std::string::npos ? std::string(" ") : std::string(m);
      v.merge_rank.emplace(std::move(key), static_cast<int32_t>(i));  // first rank wins
    }
  }

  // Special ids: defaults out of range are dropped; metadata ids out of range are ignored.
  const int32_t n_tokens = static_cast<int32_t>(n);
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  auto read_id = [&](const char* key, int32_t& id) {
    if (id >= n_tokens) id = -1;
    if (!f.has(key)) return;
    const int64_t value = f.get_int(key);
    if (value >= 0 && value < n_tokens) id = static_cast<int32_t>(value);
  };
  read_id("tokenizer.ggml.bos_token_id", v.bos);
  read_id("tokenizer.ggml.eos_token_id", v.eos);
  read_id("tokenizer.ggml.eot_token_id", v.eot);
  read_id("tokenizer.ggml.eom_token_id", v.eom);
  read_id("tokenizer.ggml.unknown_token_id", v.unk);
  read_id("tokenizer.ggml.seperator_token_id", v.sep);  // sic: the GGUF key's spelling
  read_id("tokenizer.ggml.fim_pre_token_id", fim_pre);
  read_id("tokenizer.ggml.fim_suf_token_id", fim_suf);
  read_id("tokenizer.ggml.fim_mid_token_id", fim_mid);
  read_id("tokenizer.ggml.fim_pad_token_id", fim_pad);
  read_id("tokenizer.ggml.fim_rep_token_id", fim_rep);
  read_id("tokenizer.ggml.fim_sep_token_id", fim_sep);
  read_id("tokenizer.ggml.prefix_token_id", fim_pre);
  read_id("tokenizer.ggml.suffix_token_id", fim_suf);
  read_id("tokenizer.ggml.middle_token_id", fim_mid);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (v.kind == Kind::kWpm) {
    // llama.cpp's WordPiece path adds [CLS] and [SEP] whenever special tokens are asked for,
    // whatever add_bos_token / add_sep_token say.
    v.add_bos = true;
    v.add_sep = true;
    v.add_eos = false;
    v.lowercase = f.get_bool("tokenizer.ggml.normalizer.lowercase", false);
    v.strip_accents = f.get_bool("tokenizer.ggml.normalizer.strip_accents", v.lowercase);
  }

  // Find special tokens by their text, as llama.cpp does, and make sure they are control tokens.
  // A text names the id it maps to (the last one, if the vocab repeats it). With several
  // candidate texts llama.cpp's pick depends on unordered_map order; nagare takes the lowest id.
  auto detect = [&](int32_t& id, std::initializer_list<std::string_view> names) {
    if (id != -1) return;
    for (std::string_view name : names) {
      const int32_t i = v.find(name);
      if (i >= 0 && (id < 0 || i < id)) id = i;
    }
    if (id >= 0) v.attr[id] |= kAttrControl;
  };
  detect(v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                 "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                 "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",
                 "<end_of_utterance>"});
  detect(v.eom, {"<|eom_id|>"});
  detect(fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                   "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>",
                   "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"});
  detect(fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                   "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>",
                   "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"});
  detect(fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                   "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>",
                   "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"});
  detect(fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  detect(fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(fim_sep, {"<|file_sep|>"});

  // Control tokens named "...unused..." are unused.
  for (int32_t i = 0; i < n_tokens; ++i) {
    if ((v.attr[i] & kAttrControl) && v.text[i].find("unused") != std::string::npos) {
      v.attr[i] |= kAttrUnused;
    }
  }

  // End-of-generation set (llama_vocab_is_eog).
  v.is_eog.assign(n, 0);
  for (int32_t id : {fim_pad, fim_rep, fim_sep}) {
    if (id >= 0) v.is_eog[id] = 1;
  }
  for (std::string_view name :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>", "[e~["}) {
    const int32_t i = v.find(name);
    if (i < 0) continue;
    v.is_eog[i] = 1;
    v.attr[i] |= kAttrControl;
  }
  // gpt-oss renders these even though they are special.
  for (std::string_view name : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const int32_t i = v.find(name);
    if (i >= 0) v.attr[i] = kAttrUserDefined;
  }
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0) v.is_eog[id] = 1;
  }
  auto eog_with_text = [&](std::string_view t) {
    const int32_t i = v.find(t);
    return i >= 0 && v.is_eog[i] ? i : -1;
  };
  {
    // o200k_harmony / solar-open: <|end|> is not an end of generation there.
    const int32_t end = eog_with_text("<|end|>");
    const bool ret = eog_with_text("<|return|>") >= 0;
    const bool call = eog_with_text("<|call|>") >= 0 || eog_with_text("<|calls|>") >= 0;
    const bool flush = eog_with_text("<|flush|>") >= 0;
    if (end >= 0 && ((ret && call) || (call && flush))) {
      v.is_eog[end] = 0;
      v.attr[end] = kAttrUserDefined;
    }
    // gemma4 / plamo: </s> is a normal token there.
    const int32_t s = eog_with_text("</s>");
    if (s >= 0 && (eog_with_text("<|tool_response>") >= 0 || eog_with_text("<|plamo:eos|>") >= 0)) {
      v.is_eog[s] = 0;
      v.attr[s] = kAttrNormal;
    }
  }

  // Texts split out before tokenizing, longest first. std::sort is not stable: running the same
  // sort over the same input as llama.cpp (ids ascending) reproduces its order for equal lengths.
  for (int32_t i = 0; i < n_tokens; ++i) {
    if (v.attr[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.special_order.push_back(i);
  }
  std::sort(v.special_order.begin(), v.special_order.end(), [&](int32_t a, int32_t b) {
    return v.text[a].size() > v.text[b].size();
  });

  // Byte fallback ids.
  for (int b = 0; b < 256; ++b) {
    int32_t id = -1;
    if (v.kind == Kind::kSpm) {
      static const char kHex[] = "0123456789ABCDEF";
      const char buf[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      id = v.find(std::string_view(buf, 6));
      if (id < 0) id = v.find(std::string(1, static_cast<char>(b)));
    } else {
      std::string s;
      unicode::append_utf8(unicode::byte_to_codepoint(static_cast<uint8_t>(b)), s);
      id = v.find(s);
    }
    v.byte_token[b] = id;
  }

  v.piece_offset.reserve(n + 1);
  v.piece_offset.push_back(0);
  for (int32_t i = 0; i < n_tokens; ++i) {
    v.piece_data += make_piece(v, i);
    if (v.piece_data.size() > UINT32_MAX) throw Error(where + "vocabulary too large");
    v.piece_offset.push_back(static_cast<uint32_t>(v.piece_data.size()));
  }
  return v;
}

}  // namespace nagare
