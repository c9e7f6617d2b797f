// Grammar: the front doors (GBNF, JSON Schema, any JSON object) into one compiled form.
#include "grammar/grammar.h"

#include <nlohmann/json.hpp>

#include "grammar/compiled_grammar.h"
#include "grammar/gbnf_parser.h"
#include "grammar/grammar_impl.h"
#include "grammar/json_schema.h"

namespace nagare {
namespace {

std::shared_ptr<const Grammar> compile(grammar::GrammarAst ast, const GrammarLimits& limits) {
  auto impl = std::make_unique<Grammar::Impl>();
  impl->pda = grammar::compile_pda(ast, limits);
  impl->ast = std::move(ast);
  return std::make_shared<const Grammar>(std::move(impl));
}

}  // namespace

Grammar::Grammar(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Grammar::~Grammar() = default;

std::shared_ptr<const Grammar> Grammar::from_gbnf(std::string_view text, const GrammarLimits& limits) {
  if (text.size() > limits.max_source_bytes)
    throw GrammarError("the grammar is " + std::to_string(text.size()) + " bytes, past the limit of " +
                       std::to_string(limits.max_source_bytes));
  return compile(grammar::parse_gbnf(text), limits);
}

std::shared_ptr<const Grammar> Grammar::from_json_schema(const nlohmann::ordered_json& schema, const GrammarLimits& limits) {
  return compile(grammar::json_schema_to_ast(schema, limits), limits);
}

std::shared_ptr<const Grammar> Grammar::any_json_object() {
  // Built once: every json_object request shares it, and so shares its compiled masks.
  static const std::shared_ptr<const Grammar> grammar = compile(grammar::any_json_object_ast(), GrammarLimits{});
  return grammar;
}

std::string Grammar::to_gbnf() const { return impl_->ast.to_gbnf(); }

}  // namespace nagare
