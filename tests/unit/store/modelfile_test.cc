// Modelfile parsing: every instruction and quoting form, and every malformed input an error
// naming the file and the line (the line where a multi-line value opened).
#include <gtest/gtest.h>

#include "store/modelfile.h"
#include "util/error.h"

namespace nagare {
namespace {

using json = nlohmann::json;

TEST(Modelfile, EveryInstruction) {
  const std::string text =
      "# a comment\r\n"
      "from smollm2:135m\r\n"
      "\n"
      "SYSTEM \"\"\"You are terse.\n"
      "Answer in one word.\"\"\"\n"
      "  TEMPLATE \"\"\"{{ messages }}\"\"\"\n"
      "PARAMETER temperature 0.5\n"
      "PARAMETER num_ctx 2048\n"
      "PARAMETER stop \"<|im_end|>\"\n"
      "PARAMETER stop User:\n"
      "MESSAGE user \"Is the sky \\\"blue\\\"?\"\n"
      "MESSAGE assistant yes\n"
      "LICENSE \"\"\"MIT\"\"\"\n"
      "LICENSE Apache-2.0\n";
  Modelfile m = Modelfile::parse(text, "Modelfile");
  EXPECT_EQ(m.from, "smollm2:135m");
  EXPECT_EQ(m.from_line, 2);
  EXPECT_EQ(m.system, "You are terse.\nAnswer in one word.");
  EXPECT_EQ(m.template_text, "{{ messages }}");
  EXPECT_EQ(m.parameters, json({{"temperature", 0.5}, {"num_ctx", 2048}, {"stop", {"<|im_end|>", "User:"}}}));
  ASSERT_EQ(m.messages.size(), 2u);
  EXPECT_EQ(m.messages[0].content, "Is the sky \"blue\"?");
  EXPECT_EQ(m.messages[1].role, "assistant");
  EXPECT_EQ(m.license, "MIT\n\nApache-2.0");
}

void expect_error(const std::string& text, const std::string& want) {
  try {
    Modelfile::parse(text, "/dir/Modelfile");
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/dir/Modelfile" + want), std::string::npos)
        << "want '" << want << "' in: " << e.what();
  }
}

TEST(Modelfile, ErrorsNameTheLine) {
  expect_error("FROM x\nSYSTEM hi\nFORM y\n", ":3: unknown instruction 'FORM'");
  expect_error("FROM x\n\nPARAMETER nope 1\n", ":3: unknown parameter 'nope'");
  expect_error("FROM x\nPARAMETER num_ctx big\n", ":2: parameter num_ctx takes an integer, not 'big'");
  expect_error("FROM x\nPARAMETER temperature\n", ":2: PARAMETER temperature needs a value");
  expect_error("FROM x\nPARAMETER\n", ":2: PARAMETER needs a name");
  expect_error("FROM x\nSYSTEM \"\"\"open\n\nstill open\n", ":2: SYSTEM: the \"\"\" opened here is never closed");
  expect_error("FROM x\nSYSTEM \"unterminated\nmore\n", ":2: SYSTEM: the quoted value is not closed");
  expect_error("FROM x\nSYSTEM \"a\" trailing\n", ":2: SYSTEM: unexpected text after the closing quote");
  expect_error("FROM x\nSYSTEM \"\"\"a\nb\"\"\" trailing\n", ":3: SYSTEM: unexpected text after the closing quote");
  expect_error("FROM x\nMESSAGE robot hi\n", ":2: MESSAGE role 'robot'");
  expect_error("FROM x\nMESSAGE\n", ":2: MESSAGE needs a role");
  expect_error("FROM x\nFROM y\n", ":2: a second FROM (the first is on line 1)");
  expect_error("FROM\n", ":1: FROM needs a model name");
  expect_error("FROM x\nTEMPLATE \"\"\n", ":2: TEMPLATE is empty");
  expect_error("FROM x\nADAPTER ./lora.gguf\n", ":2: ADAPTER (LoRA adapters) is not supported");
  expect_error("# only a comment\nSYSTEM hi\n", ": no FROM line");
  expect_error("", ": no FROM line");
  expect_error(std::string("FROM x\nSYS\0TEM\n", 15), ":2: a NUL byte");
}

TEST(Modelfile, TextRecreatesTheManifest) {
  Manifest m;
  m.weights_digest = "sha256:" + std::string(64, 'b');
  m.template_text = "{{ a }}\n\"b\" end";
  m.system = "  leading space";
  m.license = "";
  m.parameters = {{"top_k", 20}, {"stop", {"a b", "\"q\""}}};
  m.messages = {{"user", "two\nlines"}, {"assistant", "x"}};
  Modelfile back = Modelfile::parse(modelfile_text(m, "base:latest"), "generated");
  EXPECT_EQ(back.from, "base:latest");
  EXPECT_EQ(back.template_text, m.template_text);
  EXPECT_EQ(back.system, m.system);
  EXPECT_EQ(back.license, m.license);
  EXPECT_EQ(back.parameters, m.parameters);
  EXPECT_EQ(back.messages, m.messages);
}

}  // namespace
}  // namespace nagare
