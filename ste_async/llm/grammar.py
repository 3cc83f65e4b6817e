"""GBNF grammars that hold a small model to the STE reply formats.

A 135M-300M model asked for a ReAct step rarely writes one that parses; sampled under a
grammar it cannot do otherwise. :func:`react_grammar` admits exactly one step, in either of
the two shapes that :func:`ste_async.parsing.parse_react` accepts::

    Thought: <one line>
    Action: <one of the offered API names>
    Action Input: <a JSON object>

    Thought: <one line>
    Final Answer: <one line>

and :func:`query_grammar` admits one line of text, for the imagination step.

The text is llama.cpp's GBNF, sent as the ``grammar`` field of a ``/v1/chat/completions``
request to ``llama-server``. vLLM reads the same EBNF dialect, but from another field:
``guided_grammar`` in older releases, ``structured_outputs: {"grammar": ...}`` in newer ones.
Generation stops where the grammar is complete, so no stop string is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ("gbnf_literal", "query_grammar", "react_grammar")

# Every repetition is bounded (members, items, characters, blanks, and nesting: values
# below the top level are scalars or flat arrays and objects) so that a small model that
# starts copying the prompt's "key_1", "key_2", ... example has to close the object in time.
_JSON_RULES = r"""
object ::= "{" ws ( member ( "," ws member ){0,9} )? "}"
member ::= string ws ":" ws value ws
value ::= inner | array | scalar
inner ::= "{" ws ( string ws ":" ws flat ws ( "," ws string ws ":" ws flat ws ){0,9} )? "}"
array ::= "[" ws ( flat ws ( "," ws flat ws ){0,9} )? "]"
flat ::= scalar | "[" ws ( scalar ws ( "," ws scalar ws ){0,9} )? "]"
scalar ::= string | number | "true" | "false" | "null"
string ::= "\"" char{0,200} "\""
char ::= [^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,3} )?
ws ::= [ \t\n]{0,8}
"""


def gbnf_literal(text: str) -> str:
    """``text`` as a double-quoted GBNF literal that matches it exactly.

    Quote and backslash are escaped, control characters and everything beyond ASCII are
    written as ``\\uXXXX`` / ``\\UXXXXXXXX`` so the grammar text itself stays plain ASCII.
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)


def react_grammar(api_names: Sequence[str], *, allow_final: bool = True,
                  thought_chars: int = 200, answer_chars: int = 400) -> str:
    """A grammar for one ReAct step whose ``Action:`` is one of ``api_names``.

    ``allow_final=False`` admits only a call (small models otherwise often answer at once
    without calling anything). ``thought_chars`` and ``answer_chars`` bound the free-text
    lines, so that a model that would ramble reaches the structured part before ``max_tokens``.
    """
    names = list(dict.fromkeys(api_names))  # order kept, duplicates dropped
    if not names:
        raise ValueError("react_grammar needs at least one API name")
    if any(not n or "\n" in n for n in names):
        raise ValueError("API names must be non-empty single lines")
    api = " | ".join(gbnf_literal(n) for n in names)
    final = (
        f'final ::= "Final Answer: " answer\nanswer ::= [^\\n]{{1,{answer_chars}}}\n'
        if allow_final else ""
    )
    return (
        f'root ::= "Thought: " thought "\\n" {"( call | final )" if allow_final else "call"}\n'
        'call ::= "Action: " api "\\nAction Input: " object\n'
        f"{final}"
        f"api ::= {api}\n"
        f"thought ::= [^\\n]{{1,{thought_chars}}}\n"
        + _JSON_RULES.lstrip("\n")
    )


def query_grammar(max_chars: int = 400) -> str:
    """A grammar for one line of text that does not begin with a blank."""
    return f"root ::= [^\\n \\t] [^\\n]{{0,{max_chars - 1}}}\n"
