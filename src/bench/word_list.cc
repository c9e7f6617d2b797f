// The vocabulary of synthetic prompts: common English words that are each exactly one token
// (with a leading space) in GPT-2/Llama-style BPE and in SentencePiece vocabularies, so a prompt
// of N words is about N tokens on any server. check_word_list.py re-checks them against the test
// models' tokenizers through llama.cpp.
#include "bench/word_list.h"

namespace nagare::bench {

const std::vector<std::string_view>& word_list() {
  static const std::vector<std::string_view> kWords = {
    "time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child", "world",
    "school", "state", "family", "student", "group", "country", "problem", "hand", "part", "place",
    "case", "week", "company", "system", "program", "question", "work", "government", "number",
    "night", "point", "home", "water", "room", "mother", "area", "money", "story", "fact", "month",
    "lot", "right", "study", "book", "eye", "job", "word", "business", "issue", "side", "kind",
    "head", "house", "service", "friend", "father", "power", "hour", "game", "line", "end",
    "member", "law", "car", "city", "community", "name", "president", "team", "minute", "idea",
    "kid", "body", "information", "back", "parent", "face", "others", "level", "office", "door",
    "health", "person", "art", "war", "history", "party", "result", "change", "reason", "research",
    "girl", "moment", "air", "teacher", "force", "education", "foot", "boy", "age", "policy",
    "music", "market", "sense", "nation", "plan", "college", "interest", "death", "experience",
    "effect", "class", "control", "care", "field", "development", "role", "rate", "heart", "drug",
    "show", "leader", "light", "voice", "wife", "mind", "price", "report", "decision", "son",
    "view", "relationship", "town", "road", "arm", "difference", "value", "building", "action",
    "model", "season", "tax", "director", "position", "player", "record", "paper", "space",
    "ground", "form", "event", "official", "matter", "center", "site", "project", "activity",
    "star", "table", "need", "court", "oil", "cost", "industry", "figure", "street", "image",
    "phone", "data", "picture", "practice", "piece", "land", "product", "doctor", "wall", "patient",
    "worker", "news", "test", "movie", "north", "love", "support", "technology", "step", "baby",
    "computer", "type", "attention", "film", "tree", "source", "organization", "hair", "window",
    "evidence", "population", "truth", "song", "science", "machine", "river", "ocean", "forest",
    "bridge", "letter", "summer", "winter", "spring", "animal", "bird", "fish", "horse", "dog",
    "cat", "flower", "chair", "glass", "cup", "plate", "bread", "milk", "sugar", "salt", "fruit",
    "apple", "orange", "green", "blue", "red", "yellow", "white", "black", "brown", "small",
    "large", "big", "little", "long", "short", "high", "low", "old", "new", "young", "good", "bad",
    "great", "important", "different", "early", "late", "hard", "easy", "strong", "free", "clear",
    "full", "open", "simple", "happy", "real", "public", "private", "local", "national", "general",
    "special", "common", "certain", "true", "whole", "able", "best", "better", "recent", "major",
    "social", "political", "economic", "human", "natural", "personal", "final", "main", "similar",
    "single", "quick", "slow", "warm", "cold", "dark", "bright", "quiet", "rich", "poor", "safe",
    "heavy", "deep", "wide", "fresh", "clean", "ready", "go", "make", "take", "see", "come", "know",
    "get", "give", "find", "think", "tell", "leave", "feel", "put", "begin", "keep", "hold",
    "write", "stand", "let", "mean", "set", "run", "pay", "sit", "lie", "lead", "read", "grow",
    "fall", "send", "build", "stay", "understand", "draw", "break", "cut", "rise", "drive", "buy",
    "wear", "choose", "seek", "catch", "deal", "win", "forget", "sell", "walk", "talk", "play",
    "move", "live", "include", "continue", "learn", "follow", "stop", "create", "help", "start",
    "turn", "call", "ask", "try", "use", "want", "look", "about", "after", "again", "also",
    "always", "among", "around", "because", "before", "below", "between", "both", "during", "each",
    "even", "every", "far", "first", "here", "however", "just", "later", "least", "less", "many",
    "maybe", "more", "most", "much", "never", "next", "often", "only", "other", "over", "perhaps",
    "quite", "rather", "same", "several", "since", "still", "such", "than", "then", "there",
    "these", "though", "through", "today", "together", "under", "until", "very", "well", "what",
    "when", "where", "which", "while", "why", "within", "without", "yet",
  };
  return kWords;
}

}  // namespace nagare::bench
