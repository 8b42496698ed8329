#include "llm/jinja/template.h"

#include <gtest/gtest.h>

#include "llm/jinja/error.h"

namespace omni::llm::jinja {
namespace {

std::string render(const std::string& text, const nlohmann::ordered_json& vars = {},
                   const LexOptions& opts = {}, const Limits& limits = {}) {
  std::unordered_map<std::string, Value> globals;
  if (vars.is_object()) {
    for (const auto& [k, v] : vars.items()) globals[k] = Value::from_json(v);
  }
  add_builtin_globals(globals, [] {
    std::tm t{};
    t.tm_year = 2025 - 1900;
    t.tm_mon = 2;
    t.tm_mday = 7;
    return t;
  });
  return Template(text, opts).render(std::move(globals), limits);
}

// The message of the exception render() throws ("" when it does not throw).
template <typename E>
std::string error_of(const std::string& text, const nlohmann::ordered_json& vars = {}) {
  try {
    render(text, vars);
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

TEST(Jinja, TextAndOutput) {
  EXPECT_EQ(render("hello"), "hello");
  EXPECT_EQ(render("a{{ 1 + 2 }}b"), "a3b");
  EXPECT_EQ(render("{{ x }}", {{"x", "hi"}}), "hi");
  EXPECT_EQ(render("[{{ missing }}]"), "[]");
  EXPECT_EQ(render("{{ none }}|{{ true }}|{{ False }}"), "None|True|False");
  EXPECT_EQ(render("{# comment #}x"), "x");
  EXPECT_EQ(render("trailing newline\n"), "trailing newline");
}

TEST(Jinja, Literals) {
  EXPECT_EQ(render("{{ 'a' 'b' }}"), "ab");
  EXPECT_EQ(render(R"({{ "q\"uote\n" }})"), "q\"uote\n");
  EXPECT_EQ(render(R"({{ '\x41\u00e9\t' }})"), "A\xc3\xa9\t");
  EXPECT_EQ(render("{{ 'line\\\ncontinued' }}"), "linecontinued");
  EXPECT_EQ(render(R"({{ '\d' }})"), "\\d");
  EXPECT_EQ(render("{{ [1, 'a', none, 2.5] }}"), "[1, 'a', None, 2.5]");
  EXPECT_EQ(render("{{ {'k': 'v', 'n': 1} }}"), "{'k': 'v', 'n': 1}");
  EXPECT_EQ(render("{{ 1_000 }}|{{ 1e3 }}|{{ 0.1 }}|{{ 1e-5 }}|{{ 1e16 }}"),
            "1000|1000.0|0.1|1e-05|1e+16");
}

TEST(Jinja, Arithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"),
            "3 -4 1 2 3.5 1024");
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 + 5 }} {{ 1 + 0.5 }}"), "7 9 3 1.5");
  EXPECT_EQ(render("{{ 'ab' * 3 }}{{ [1] * 2 }}{{ [1] + [2] }}"), "ababab[1, 1][1, 2]");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ missing }}"), "a1None");
  EXPECT_EQ(render("{{ true + 1 }}"), "2");
}

TEST(Jinja, LogicAndComparison) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }}"),
            "True False True True");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [3] }}"),
            "True True True False");
  EXPECT_EQ(render("{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not '' }} {{ none or [] }}"), "x y True []");
  EXPECT_EQ(render("{{ 'y' if 1 > 2 else 'n' }}|{{ 'y' if false }}|"), "n||");
  EXPECT_EQ(render("{{ not x is defined }}"), "True");  // not (x is defined)
  EXPECT_EQ(render("{{ [1, [2]] == [1, [2]] }} {{ {'a': 1} == {'a': 1.0} }}"), "True True");
}

TEST(Jinja, FilterPrecedence) {
  // Filters bind tighter than + (Llama 3: 'header' + content | trim + 'eot').
  EXPECT_EQ(render("{{ '<' + ' x ' | trim + '>' }}"), "<x>");
  EXPECT_EQ(render("{{ xs | length - 1 }}", {{"xs", {1, 2, 3}}}), "2");
  EXPECT_EQ(render("{{ -3 | abs }}"), "3");
}

TEST(Jinja, IndexingAndSlicing) {
  const nlohmann::ordered_json v = {{"xs", {1, 2, 3, 4}}, {"s", "h\xc3\xa9llo"}, {"d", {{"a", {{"b", 5}}}}}};
  EXPECT_EQ(render("{{ xs[0] }}{{ xs[-1] }}{{ xs[1:3] }}{{ xs[::-1] }}{{ xs[:-1] }}{{ xs[::2] }}", v),
            "14[2, 3][4, 3, 2, 1][1, 2, 3][1, 3]");
  EXPECT_EQ(render("{{ xs[1::9223372036854775807] }}{{ xs[::-9223372036854775807] }}{{ xs[-100:100] }}", v),
            "[2][4][1, 2, 3, 4]");
  EXPECT_EQ(render("{{ s[1] }}|{{ s[-4:] }}|{{ s[::-1] }}|{{ s | length }}", v),
            "\xc3\xa9|\xc3\xa9llo|oll\xc3\xa9h|5");
  EXPECT_EQ(render("{{ d.a.b }}{{ d['a']['b'] }}[{{ d.x.y.z }}][{{ xs[10] }}]", v), "55[][]");
}

TEST(Jinja, StringMethods) {
  EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ 'xxayxx'.strip('x') }}|{{ '\n\na\n'.lstrip('\n') }}|"
                   "{{ 'a\n\n'.rstrip() }}"),
            "x|ay|a\n|a");
  EXPECT_EQ(render("{{ 'a<b>c<b>d'.split('<b>') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}"),
            "['a', 'c', 'd']|['a', 'b']|['a', 'b,c']");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}"),
            "TrueTrueTrue");
  EXPECT_EQ(render("{{ 'aBc'.upper() }}{{ 'aBc'.lower() }}{{ 'hello world'.title() }}"
                   "{{ 'hELLO'.capitalize() }}{{ 'aaa'.replace('a', 'b', 2) }}"),
            "ABCabcHello WorldHellobba");
  EXPECT_EQ(render("{{ '-'.join(['a', 'b']) }}{{ 'abcabc'.find('c') }}{{ 'abcabc'.count('bc') }}"),
            "a-b22");
}

TEST(Jinja, DictAndListMethods) {
  const nlohmann::ordered_json v = {{"d", {{"z", 1}, {"a", 2}}}};
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", v), "z=1;a=2;");
  EXPECT_EQ(render("{{ d.keys() }}{{ d.values() }}{{ d.get('a') }}{{ d.get('q', 7) }}{{ d.get('q') }}", v),
            "['z', 'a'][1, 2]27None");
  EXPECT_EQ(render("{% set l = [1] %}{% do l.append(2) %}{{ l.append(3) }}{{ l }}{{ l.pop() }}{{ l }}"),
            "None[1, 2, 3]3[1, 2]");
  EXPECT_EQ(error_of<Error>("{% set l = [] %}{% do l.append(l) %}"),
            "chat template error at line 1, column 23: a list or dict cannot contain itself");
}

TEST(Jinja, Filters) {
  const nlohmann::ordered_json v = {
      {"ms", {{{"role", "user"}, {"n", 1}}, {{"role", "bot"}, {"n", 2}}, {{"role", "user"}, {"n", 3}}}}};
  EXPECT_EQ(render("{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='n') | list }}", v),
            "[1, 3]");
  EXPECT_EQ(render("{{ ms | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }}", v),
            "bot");
  EXPECT_EQ(render("{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(', ') }}"), "a, b");
  EXPECT_EQ(render("{{ ['x', 'y'] | map('upper') | join }}"), "XY");
  EXPECT_EQ(render("{{ missing | default('dflt') }}|{{ '' | default('e', true) }}|{{ 0 | d(5) }}"),
            "dflt|e|0");
  EXPECT_EQ(render("{{ [3, 1, 2] | sort }}{{ [3, 1, 2] | sort(reverse=true) }}{{ ['b', 'A'] | sort }}"),
            "[1, 2, 3][3, 2, 1]['A', 'b']");
  EXPECT_EQ(render("{{ [1, 2, 1, 3] | unique | list }}{{ [1, 2] | reverse | list }}{{ 'ab' | reverse }}"),
            "[1, 2, 3][2, 1]ba");
  EXPECT_EQ(render("{{ [4, 5] | first }}{{ [4, 5] | last }}{{ 'xyz' | first }}"), "45x");
  EXPECT_EQ(render("{{ '3' | int + 1 }} {{ '2.5' | float }} {{ 'x' | int }} {{ 3.7 | int }}"),
            "4 2.5 0 3");
  EXPECT_EQ(render("{{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 7 | round }}"),
            "2.0 3.14 3.0 7");
  EXPECT_EQ(render("{{ 'a b' | upper }}{{ 'A B' | lower }}{{ 'hello there' | title }}{{ 'hI' | capitalize }}"),
            "A Ba bHello ThereHi");
  EXPECT_EQ(render("{{ '<a&\"b\">' | e }}|{{ '<x>' | safe }}|{{ 1 | string ~ 2 }}"),
            "&lt;a&amp;&#34;b&#34;&gt;|<x>|12");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}{{ v }}{% endfor %}"
                   "{{ 'ab' | list }}{{ {'k': 1} | length }}"),
            "a1b2['a', 'b']1");
  EXPECT_EQ(render("{{ 'aXbX' | replace('X', '-') }}{{ 'a\nb' | indent(2) }}{{ [1, 2.5] | sum }}"),
            "a-b-a\n  b3.5");
}

TEST(Jinja, ToJson) {
  const nlohmann::ordered_json v = {
      {"t", {{"name", "f"}, {"ok", true}, {"n", nullptr}, {"xs", {1, 2.5}}, {"s", "\xc3\xa9\"\n"}}}};
  EXPECT_EQ(render("{{ t | tojson }}", v),
            "{\"name\": \"f\", \"ok\": true, \"n\": null, \"xs\": [1, 2.5], \"s\": \"\xc3\xa9\\\"\\n\"}");
  EXPECT_EQ(render("{{ t.xs | tojson(indent=2) }}", v), "[\n  1,\n  2.5\n]");
  EXPECT_EQ(render("{{ {'a': {}, 'b': []} | tojson(indent=4) }}"),
            "{\n    \"a\": {},\n    \"b\": []\n}");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}"), "{\"a\": 2, \"b\": 1}");
}

TEST(Jinja, Tests) {
  EXPECT_EQ(render("{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 'a' is string }}"),
            "FalseTrueTrueTrue");
  EXPECT_EQ(render("{{ 1 is number }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}"),
            "TrueTrueTrueTrue");
  EXPECT_EQ(render("{{ false is false }}{{ 0 is false }}{{ true is true }}{{ 1 is true }}"),
            "TrueFalseTrueFalse");
  EXPECT_EQ(render("{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is equalto 'a' }}"
                   "{{ 2 is not eq(3) }}"),
            "TrueTrueTrueTrueTrue");
}

TEST(Jinja, IfAndFor) {
  EXPECT_EQ(render("{% if 0 %}a{% elif 1 %}b{% else %}c{% endif %}"), "b");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}"),
            "103TrueFalse3;212FalseFalse3;321FalseTrue3;");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(6) if x is odd %}{{ x }}{{ loop.last }}{% endfor %}"),
            "1False3False5True");
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}"), "37");
  EXPECT_EQ(render("{% for x in range(10) %}{% if x == 3 %}{% break %}{% endif %}"
                   "{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}"),
            "02");
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.cycle('o', 'e') }}{{ x }}{% endfor %}"), "oaeb");
  EXPECT_EQ(render("{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}"), "pq");
}

TEST(Jinja, Scoping) {
  // A set inside a loop does not leak out; a namespace carries state out.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  // Each iteration starts again from the outer value (Jinja2 re-reads it per iteration).
  EXPECT_EQ(render("{% set c = 0 %}{% for i in [1, 2, 3] %}{% set c = c + 1 %}{{ c }}{% endfor %}{{ c }}"),
            "1110");
  EXPECT_EQ(render("{% set ns = namespace(x=1, y='a') %}{% for i in [5, 6] %}{% set ns.x = ns.x + i %}"
                   "{% endfor %}{{ ns.x }}{{ ns.y }}"),
            "12a");
  EXPECT_EQ(render("{% if true %}{% set y = 3 %}{% endif %}{{ y }}"), "3");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set block %}x{{ 1 }}y{% endset %}[{{ block }}]"), "[x1y]");
  EXPECT_EQ(error_of<Error>("{% set d = {} %}{% set d.x = 1 %}"),
            "chat template error at line 1, column 17: cannot assign attribute 'x' on dict "
            "(only on namespace objects)");
}

TEST(Jinja, Macros) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}"),
            "Hi A! Hi B? Hi C!");
  // Macros see globals but not the caller's locals.
  EXPECT_EQ(render("{% macro m() %}[{{ g }}{{ local }}]{% endmacro %}"
                   "{% for local in [1] %}{{ m() }}{% endfor %}",
                   {{"g", "G"}}),
            "[G]");
  EXPECT_NE(error_of<Error>("{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}")
                .find("macro calls nested too deeply"),
            std::string::npos);
  // Deep statement nesting inside a recursive macro is bounded too (the C++ stack).
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += "{% if true %}";
  deep += "{{ r() }}";
  for (int i = 0; i < 150; ++i) deep += "{% endif %}";
  EXPECT_NE(error_of<Error>("{% macro r() %}" + deep + "{% endmacro %}{{ r() }}")
                .find("nested too deeply"),
            std::string::npos);
}

TEST(Jinja, FilterBlockRawAndGeneration) {
  EXPECT_EQ(render("{% filter upper %}ab{{ 'c' }}{% endfilter %}"), "ABC");
  EXPECT_EQ(render("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
  EXPECT_EQ(render("{% generation %}gen{% endgeneration %}"), "gen");
}

TEST(Jinja, WhitespaceControl) {
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(render("a \n {%- if true -%} \n b {%- endif %}"), "ab");
  EXPECT_EQ(render("a {#- c -#} b"), "ab");
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before one.
  EXPECT_EQ(render("{% if true %}\n    x\n    {% endif %}\ny"), "    x\ny");
  EXPECT_EQ(render("  {{ 'v' }}\n"), "  v");  // lstrip_blocks leaves {{ }} alone
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  LexOptions plain;
  plain.trim_blocks = false;
  plain.lstrip_blocks = false;
  EXPECT_EQ(render("{% if true %}\n    x\n    {% endif %}\ny", {}, plain), "\n    x\n    \ny");
  EXPECT_EQ(render("text {% if true %}x{% endif %}"), "text x");  // not at line start: kept
}

TEST(Jinja, GlobalFunctions) {
  EXPECT_EQ(render("{{ range(3) }}{{ range(1, 7, 2) }}{{ range(3, 0, -1) }}"),
            "[0, 1, 2][1, 3, 5][3, 2, 1]");
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}"),
            "07 Mar 2025|2025-03-07");
  EXPECT_EQ(render("{{ dict(a=1).a }}"), "1");
}

TEST(Jinja, RaiseException) {
  EXPECT_EQ(error_of<TemplateRaised>("x{{ raise_exception('Roles must alternate!') }}"),
            "Roles must alternate!");
  // A raised exception is an omni::Error like every other failure.
  EXPECT_THROW(render("{{ raise_exception('no') }}"), Error);
}

TEST(Jinja, SyntaxErrorsCarryPositions) {
  EXPECT_EQ(error_of<TemplateSyntaxError>("ab\n{% if x %}y"),
            "chat template syntax error at line 2, column 12: unexpected end of template, "
            "expected 'elif' or 'else' or 'endif'");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{{ 1 + }}"),
            "chat template syntax error at line 1, column 8: unexpected '}}'");
  EXPECT_EQ(error_of<TemplateSyntaxError>("x\n  {{ 'abc }}"),
            "chat template syntax error at line 2, column 6: unterminated string literal");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{% frobnicate %}"),
            "chat template syntax error at line 1, column 4: unknown tag 'frobnicate'");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{{ x "),
            "chat template syntax error at line 1, column 1: unterminated '{{' tag");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{# open"),
            "chat template syntax error at line 1, column 1: unterminated comment");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{{ a ! b }}"),
            "chat template syntax error at line 1, column 6: unexpected character '!'");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{% endif %}"),
            "chat template syntax error at line 1, column 4: unknown tag 'endif'");
  EXPECT_EQ(error_of<TemplateSyntaxError>("{{ (((((1 }}"),
            "chat template syntax error at line 1, column 11: unexpected '}', expected ')'");
  EXPECT_TRUE((std::is_base_of_v<FormatError, TemplateSyntaxError>));
}

TEST(Jinja, RuntimeErrorsCarryPositions) {
  EXPECT_EQ(error_of<Error>("line\n{{ 'a' + 1 }}"),
            "chat template error at line 2, column 8: unsupported operand types for +: string and int");
  EXPECT_EQ(error_of<Error>("{{ nope() }}"), "chat template error at line 1, column 4: 'nope' is undefined");
  EXPECT_EQ(error_of<Error>("{{ x + 1 }}"), "chat template error at line 1, column 6: 'x' is undefined");
  EXPECT_EQ(error_of<Error>("{{ 1 // 0 }}"),
            "chat template error at line 1, column 6: integer division or modulo by zero");
  EXPECT_EQ(error_of<Error>("{{ 'a' | frob }}"), "chat template error at line 1, column 10: unknown filter 'frob'");
  EXPECT_EQ(error_of<Error>("{% for x in none %}{% endfor %}"),
            "chat template error at line 1, column 1: 'None' is not iterable");
}

TEST(Jinja, LimitsStopRunawayTemplates) {
  Limits small;
  small.max_steps = 100000;
  try {
    render("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", {},
           {}, small);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too many steps"), std::string::npos) << e.what();
  }
  small.max_output = 1000;
  EXPECT_THROW(render("{% for a in range(2000) %}x{% endfor %}", {}, {}, small), Error);
  EXPECT_EQ(render("{% for a in range(1000) %}x{% endfor %}", {}, {}, small).size(), 1000u);
  EXPECT_NE(error_of<Error>("{{ 'x' * 1000000000000 }}").find("string too long"), std::string::npos);
  EXPECT_NE(error_of<Error>("{{ range(10000000) }}").find("range() too large"), std::string::npos);
  EXPECT_NE(error_of<Error>("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}"
                            "{% set ns.s = ns.s + ns.s %}{% endfor %}")
                .find("string too long"),
            std::string::npos);
  std::string deep(5000, '(');
  EXPECT_NE(error_of<TemplateSyntaxError>("{{ " + deep + "1" + std::string(5000, ')') + " }}")
                .find("nested too deeply"),
            std::string::npos);
  // A list nested 100000 deep is built step by step, then printed: an error, not a stack overflow.
  EXPECT_NE(error_of<Error>("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
                            "{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}")
                .find("nested too deeply"),
            std::string::npos);
}

}  // namespace
}  // namespace omni::llm::jinja
