// nagare::Error: the one exception type for failures a user can act on (bad file, bad input).
#pragma once

#include <stdexcept>
#include <string>

namespace nagare {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace nagare
