// Words that are one token each in common vocabularies; synthetic prompts are built from them.
#pragma once

#include <string_view>
#include <vector>

namespace nagare::bench {

const std::vector<std::string_view>& word_list();

}  // namespace nagare::bench
