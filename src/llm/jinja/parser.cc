#include "llm/jinja/parser.h"

#include <initializer_list>

#include "llm/jinja/error.h"

namespace omni::llm::jinja {

namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  Parser(std::string_view src, const std::vector<Token>& tokens) : src_(src), toks_(tokens) {}

  Body parse_template() {
    Body body = parse_body({});
    if (cur().kind != TokKind::kEof) fail(cur().offset, "unexpected tag");
    return body;
  }

 private:
  // ---- token helpers
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const {
    return toks_[pos_ + k < toks_.size() ? pos_ + k : toks_.size() - 1];
  }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().kind == TokKind::kOp && cur().text == op; }
  bool is_name(const char* name) const {
    return cur().kind == TokKind::kName && cur().text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  [[noreturn]] void fail(size_t offset, const std::string& msg) const {
    throw_syntax_error(src_, offset, msg);
  }
  std::string describe(const Token& t) const {
    switch (t.kind) {
      case TokKind::kEof: return "end of template";
      case TokKind::kText: return "text";
      case TokKind::kBlockEnd: return "'%}'";
      case TokKind::kVarEnd: return "'}}'";
      case TokKind::kBlockBegin: return "'{%'";
      case TokKind::kVarBegin: return "'{{'";
      case TokKind::kString: return "string literal";
      case TokKind::kInt:
      case TokKind::kFloat: return "number";
      default: return "'" + t.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail(cur().offset, std::string("expected '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().kind != TokKind::kName) fail(cur().offset, "expected a name, got " + describe(cur()));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != TokKind::kBlockEnd) fail(cur().offset, "expected '%}', got " + describe(cur()));
    advance();
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.fail(p_.cur().offset, "template nested too deeply");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  static ExprPtr make(Expr::Kind kind, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = offset;
    return e;
  }

  // ---- statements

  // Parses until a {% tag %} whose keyword is in `ends` (left unconsumed: cur() is that name).
  Body parse_body(std::initializer_list<const char*> ends) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.kind == TokKind::kEof) {
        if (ends.size() != 0) {
          std::string want;
          for (const char* e : ends) want += std::string(want.empty() ? "" : " or ") + "'" + e + "'";
          fail(t.offset, "unexpected end of template, expected " + want);
        }
        return body;
      }
      if (t.kind == TokKind::kText) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kText;
        n->offset = t.offset;
        n->text = t.text;
        body.push_back(std::move(n));
        advance();
      } else if (t.kind == TokKind::kVarBegin) {
        advance();
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kOutput;
        n->offset = t.offset;
        n->expr = parse_expression();
        if (cur().kind != TokKind::kVarEnd) fail(cur().offset, "expected '}}', got " + describe(cur()));
        advance();
        body.push_back(std::move(n));
      } else if (t.kind == TokKind::kBlockBegin) {
        const Token& kw = peek();
        if (kw.kind != TokKind::kName) fail(kw.offset, "expected a tag name, got " + describe(kw));
        for (const char* e : ends) {
          if (kw.text == e) {
            advance();  // leave the keyword as cur()
            return body;
          }
        }
        advance();
        body.push_back(parse_statement(t.offset));
      } else {
        fail(t.offset, "unexpected " + describe(t));
      }
    }
  }

  NodePtr parse_statement(size_t tag_offset) {
    const Token kw = cur();
    const std::string& k = kw.text;
    advance();
    auto n = std::make_unique<Node>();
    n->offset = tag_offset;
    if (k == "if") {
      n->kind = Node::Kind::kIf;
      n->conds.push_back(parse_expression());
      expect_block_end();
      while (true) {
        n->bodies.push_back(parse_body({"elif", "else", "endif"}));
        if (accept_name("elif")) {
          n->conds.push_back(parse_expression());
          expect_block_end();
        } else if (accept_name("else")) {
          expect_block_end();
          n->bodies.push_back(parse_body({"endif"}));
          advance();
          break;
        } else {
          advance();  // endif
          break;
        }
      }
      expect_block_end();
    } else if (k == "for") {
      n->kind = Node::Kind::kFor;
      n->targets = parse_targets();
      if (!accept_name("in")) fail(cur().offset, "expected 'in' in for loop");
      n->expr = parse_expression(/*allow_cond=*/false);
      if (accept_name("if")) n->cond = parse_expression(false);
      if (accept_name("recursive")) fail(kw.offset, "recursive for loops are not supported");
      expect_block_end();
      n->bodies.push_back(parse_body({"else", "endfor"}));
      if (accept_name("else")) {
        expect_block_end();
        n->bodies.push_back(parse_body({"endfor"}));
      }
      advance();  // endfor
      expect_block_end();
    } else if (k == "set") {
      const size_t at = cur().offset;
      std::vector<std::string> targets = parse_targets();
      if (targets.size() == 1 && accept_op(".")) n->attr = expect_name();
      n->targets = std::move(targets);
      if (accept_op("=")) {
        n->kind = Node::Kind::kSet;
        n->expr = parse_tuple_expression();
        expect_block_end();
      } else {
        if (!n->attr.empty() || n->targets.size() != 1) fail(at, "block set needs a single name");
        n->kind = Node::Kind::kSetBlock;
        expect_block_end();
        n->bodies.push_back(parse_body({"endset"}));
        advance();
        expect_block_end();
      }
    } else if (k == "macro") {
      n->kind = Node::Kind::kMacro;
      n->text = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        n->targets.push_back(expect_name());
        n->defaults.push_back(accept_op("=") ? parse_expression() : nullptr);
        if (!accept_op(",")) break;
      }
      expect_op(")");
      expect_block_end();
      n->bodies.push_back(parse_body({"endmacro"}));
      advance();
      if (cur().kind == TokKind::kName) advance();  // {% endmacro name %}
      expect_block_end();
    } else if (k == "filter") {
      n->kind = Node::Kind::kFilterBlock;
      ExprPtr chain;  // null operand: the rendered body goes there
      do {
        chain = parse_filter(std::move(chain));
      } while (accept_op("|"));
      n->expr = std::move(chain);
      expect_block_end();
      n->bodies.push_back(parse_body({"endfilter"}));
      advance();
      expect_block_end();
    } else if (k == "do") {
      n->kind = Node::Kind::kDo;
      n->expr = parse_tuple_expression();
      expect_block_end();
    } else if (k == "break" || k == "continue") {
      n->kind = k == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      expect_block_end();
    } else if (k == "generation") {
      n->kind = Node::Kind::kBlock;
      expect_block_end();
      n->bodies.push_back(parse_body({"endgeneration"}));
      advance();
      expect_block_end();
    } else {
      fail(kw.offset, "unknown tag '" + k + "'");
    }
    return n;
  }

  // `a` or `a, b` or `(a, b)`.
  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    const bool paren = accept_op("(");
    do {
      names.push_back(expect_name());
    } while (accept_op(","));
    if (paren) expect_op(")");
    return names;
  }

  // ---- expressions

  // `a, b` without brackets (the right side of set, do) is a tuple.
  ExprPtr parse_tuple_expression() {
    const size_t at = cur().offset;
    ExprPtr first = parse_expression();
    if (!is_op(",")) return first;
    auto t = make(Expr::Kind::kTuple, at);
    t->kids.push_back(std::move(first));
    while (accept_op(",")) {
      if (cur().kind == TokKind::kBlockEnd) break;
      t->kids.push_back(parse_expression());
    }
    return t;
  }

  ExprPtr parse_expression(bool allow_cond = true) {
    DepthGuard guard(*this);
    ExprPtr e = parse_or();
    if (allow_cond && is_name("if")) {
      const size_t at = cur().offset;
      advance();
      auto c = make(Expr::Kind::kCond, at);
      c->kids.push_back(std::move(e));
      c->kids.push_back(parse_or());
      c->kids.push_back(accept_name("else") ? parse_expression() : nullptr);
      return c;
    }
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, size_t at) {
    auto b = make(Expr::Kind::kBinary, at);
    b->name = op;
    b->kids.push_back(std::move(l));
    b->kids.push_back(std::move(r));
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const size_t at = cur().offset;
      advance();
      e = binary("or", std::move(e), parse_and(), at);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const size_t at = cur().offset;
      advance();
      e = binary("and", std::move(e), parse_not(), at);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const size_t at = cur().offset;
      advance();
      auto n = make(Expr::Kind::kNot, at);
      n->kids.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const size_t at = cur().offset;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().kind == TokKind::kOp &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().kind == TokKind::kName && peek().text == "in") {
        op = "notin";
        advance();
        advance();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::kCompare, at);
        cmp->kids.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->kids.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().text;
      const size_t at = cur().offset;
      advance();
      e = binary(op, std::move(e), parse_concat(), at);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const size_t at = cur().offset;
      advance();
      e = binary("~", std::move(e), parse_math2(), at);
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().text;
      const size_t at = cur().offset;
      advance();
      e = binary(op, std::move(e), parse_pow(), at);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary();
    while (is_op("**")) {
      const size_t at = cur().offset;
      advance();
      e = binary("**", std::move(e), parse_unary(), at);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter = true) {
    DepthGuard guard(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const size_t at = cur().offset;
      const std::string op = cur().text;
      advance();
      e = make(Expr::Kind::kUnary, at);
      e->name = op;
      e->kids.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.kind) {
      case TokKind::kName: {
        auto e = make(Expr::Kind::kLiteral, t.offset);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = Expr::Kind::kName;
          e->name = t.text;
        }
        advance();
        return e;
      }
      case TokKind::kString: {
        auto e = make(Expr::Kind::kLiteral, t.offset);
        std::string s;
        while (cur().kind == TokKind::kString) {  // adjacent literals concatenate
          s += cur().text;
          advance();
        }
        e->literal = Value::string(std::move(s));
        return e;
      }
      case TokKind::kInt: {
        auto e = make(Expr::Kind::kLiteral, t.offset);
        e->literal = Value::integer(t.i);
        advance();
        return e;
      }
      case TokKind::kFloat: {
        auto e = make(Expr::Kind::kLiteral, t.offset);
        e->literal = Value::number(t.f);
        advance();
        return e;
      }
      case TokKind::kOp:
        if (t.text == "(") {
          const size_t at = t.offset;
          advance();
          if (accept_op(")")) return make(Expr::Kind::kTuple, at);
          ExprPtr e = parse_expression();
          if (is_op(",")) {
            auto tup = make(Expr::Kind::kTuple, at);
            tup->kids.push_back(std::move(e));
            while (accept_op(",")) {
              if (is_op(")")) break;
              tup->kids.push_back(parse_expression());
            }
            e = std::move(tup);
          }
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          auto e = make(Expr::Kind::kList, t.offset);
          advance();
          while (!is_op("]")) {
            e->kids.push_back(parse_expression());
            if (!accept_op(",")) break;
          }
          expect_op("]");
          return e;
        }
        if (t.text == "{") {
          auto e = make(Expr::Kind::kDict, t.offset);
          advance();
          while (!is_op("}")) {
            e->kids.push_back(parse_expression());
            expect_op(":");
            e->kids.push_back(parse_expression());
            if (!accept_op(",")) break;
          }
          expect_op("}");
          return e;
        }
        break;
      default: break;
    }
    fail(t.offset, "unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const size_t at = e->offset;
      if (accept_op(".")) {
        if (cur().kind == TokKind::kInt) {
          auto g = make(Expr::Kind::kGetItem, at);
          g->kids.push_back(std::move(e));
          auto idx = make(Expr::Kind::kLiteral, cur().offset);
          idx->literal = Value::integer(cur().i);
          advance();
          g->kids.push_back(std::move(idx));
          e = std::move(g);
        } else {
          auto g = make(Expr::Kind::kGetAttr, at);
          g->name = expect_name();
          g->kids.push_back(std::move(e));
          e = std::move(g);
        }
      } else if (accept_op("[")) {
        DepthGuard guard(*this);
        ExprPtr parts[3];
        bool slice = false;
        int k = 0;
        while (true) {
          if (!is_op(":") && !is_op("]")) parts[k] = parse_expression();
          if (is_op(":") && k < 2) {
            advance();
            slice = true;
            ++k;
            continue;
          }
          break;
        }
        expect_op("]");
        if (slice) {
          auto s = make(Expr::Kind::kSlice, at);
          s->kids.push_back(std::move(e));
          for (auto& p : parts) s->kids.push_back(std::move(p));
          e = std::move(s);
        } else {
          if (!parts[0]) fail(at, "empty subscript");
          auto g = make(Expr::Kind::kGetItem, at);
          g->kids.push_back(std::move(e));
          g->kids.push_back(std::move(parts[0]));
          e = std::move(g);
        }
      } else if (is_op("(")) {
        auto c = make(Expr::Kind::kCall, at);
        c->kids.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  // ( positional..., name=value... ) appended to e.kids / e.kwnames.
  void parse_call_args(Expr& e) {
    DepthGuard guard(*this);
    expect_op("(");
    while (!is_op(")")) {
      if (cur().kind == TokKind::kName && peek().kind == TokKind::kOp && peek().text == "=") {
        e.kwnames.push_back(cur().text);
        advance();
        advance();
        e.kids.push_back(parse_expression());
      } else {
        if (!e.kwnames.empty()) fail(cur().offset, "positional argument after keyword argument");
        e.kids.push_back(parse_expression());
      }
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }

  ExprPtr parse_filter(ExprPtr operand) {
    const size_t at = cur().offset;
    auto f = make(Expr::Kind::kFilter, at);
    f->name = expect_name();
    while (accept_op(".")) {
      f->name += '.';
      f->name += expect_name();
    }
    f->kids.push_back(std::move(operand));
    if (is_op("(")) parse_call_args(*f);
    return f;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (accept_op("|")) {
        e = parse_filter(std::move(e));
      } else if (is_name("is")) {
        const size_t at = cur().offset;
        advance();
        auto t = make(Expr::Kind::kTest, at);
        t->negated = accept_name("not");
        t->name = expect_name();
        t->kids.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().kind == TokKind::kName || cur().kind == TokKind::kString ||
                    cur().kind == TokKind::kInt || cur().kind == TokKind::kFloat ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if") &&
                   !is_name("not") && !is_name("in") && !is_name("is")) {
          DepthGuard guard(*this);
          t->kids.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::string_view src_;
  const std::vector<Token>& toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(std::string_view src, const std::vector<Token>& tokens) {
  return Parser(src, tokens).parse_template();
}

}  // namespace omni::llm::jinja
