// ChatTemplateError: a chat template that fails to parse or render, with the category of the
// failure. The categories follow the exception classes jinja2 (as HF transformers configures it)
// raises for the same template, so a template fails the same way in nagare as in Python;
// tests/unit/chat/chat_golden_test.cc checks that against jinja2's goldens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.h"

namespace nagare {

enum class ChatErrorKind : uint8_t {
  Syntax,        // TemplateSyntaxError (and TemplateAssertionError, SyntaxError): refused when parsed
  Undefined,     // UndefinedError: an undefined variable / attribute / item used beyond printing it
  Type,          // TypeError: an operation on the wrong type ('a' + 1, calling a string, ...)
  Value,         // ValueError: right type, bad value (unpacking count, "substring not found", ...)
  Index,         // IndexError
  Key,           // KeyError
  Attribute,     // AttributeError (a Python method missing on a value, as in dictsort on a list)
  ZeroDivision,  // ZeroDivisionError
  Overflow,      // OverflowError: the sandbox's range limit, or int64 overflow where Python has bignums
  Security,      // SecurityError: the sandbox refused an unsafe attribute (list.append, dict.update)
  Runtime,       // TemplateRuntimeError (and FilterArgumentError): unknown filter at run time, ...
  Raised,        // TemplateError from the template's own raise_exception("...")
  Limit,         // nagare's limits on steps, depth, sizes and input nesting: jinja2 has none
  Unsupported,   // a jinja2 feature nagare does not implement
};

// The jinja2 / Python exception class name of a category ("UndefinedError", "TypeError", ...),
// or nagare's own name for the last two ("LimitExceeded", "Unsupported").
constexpr std::string_view chat_error_kind_name(ChatErrorKind kind) {
  switch (kind) {
    case ChatErrorKind::Syntax: return "TemplateSyntaxError";
    case ChatErrorKind::Undefined: return "UndefinedError";
    case ChatErrorKind::Type: return "TypeError";
    case ChatErrorKind::Value: return "ValueError";
    case ChatErrorKind::Index: return "IndexError";
    case ChatErrorKind::Key: return "KeyError";
    case ChatErrorKind::Attribute: return "AttributeError";
    case ChatErrorKind::ZeroDivision: return "ZeroDivisionError";
    case ChatErrorKind::Overflow: return "OverflowError";
    case ChatErrorKind::Security: return "SecurityError";
    case ChatErrorKind::Runtime: return "TemplateRuntimeError";
    case ChatErrorKind::Raised: return "TemplateError";
    case ChatErrorKind::Limit: return "LimitExceeded";
    case ChatErrorKind::Unsupported: return "Unsupported";
  }
  return "?";
}

class ChatTemplateError : public Error {
 public:
  ChatTemplateError(ChatErrorKind kind, const std::string& message) : Error(message), kind_(kind) {}
  ChatErrorKind kind() const { return kind_; }

 private:
  ChatErrorKind kind_;
};

}  // namespace nagare
