"""The embedded model: 1 request in flight vs all its slots, with and without a grammar.

Real act prompts of the engine (one per API, the query taken from the scripted LLM's
playbook) go to the embedded llama-server; the benchmark reports generated tokens per second
and the share of replies that parse as a well-formed ReAct step (a call of the offered API
with a JSON Action Input, or a final answer), and the share that are calls.

    python -m bench.embedded [--prompts 24] [--max-tokens 160]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import anyio

from ste_async import prompts
from ste_async.catalog import builtin_catalog
from ste_async.config import RetryConfig, Timeouts
from ste_async.llm import LlmClient
from ste_async.llm.embedded import EmbeddedServer
from ste_async.llm.grammar import react_grammar
from ste_async.parsing import Call, Final, parse_react
from tool_mocks.playbook import playbook

from ._common import write_result


def act_prompts(n: int) -> list[tuple[str, list[dict[str, str]]]]:
    out = []
    book = playbook()
    for spec in list(builtin_catalog().values())[:n]:
        query = book[spec.name][0]["query"]
        block = prompts.api_block([(spec.name, spec.prompt_description())])
        messages = [
            {"role": "system", "content": prompts.SYSTEM},
            {"role": "user", "content": prompts.imagine_first(block)},
            {"role": "assistant", "content": query},
            {"role": "user", "content": prompts.act_first([spec.name], query)},
        ]
        out.append((spec.name, messages))
    return out


async def variant(llm: LlmClient, items: list[tuple[str, list[dict[str, str]]]],
                  in_flight: int, constrained: bool, max_tokens: int) -> dict[str, Any]:
    replies: list[tuple[str, str]] = []
    todo = iter(enumerate(items))

    async def worker() -> None:
        for i, (api, messages) in todo:
            # as the engine does on a trial's first step: a call is required
            extra = {"grammar": react_grammar([api], allow_final=False)} if constrained else None
            c = await llm.complete(messages, stop="Observation:", seed=i, temperature=1.0,
                                   max_tokens=max_tokens, extra=extra)
            replies.append((api, c.text))

    tokens0 = llm.completion_tokens
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(worker)
    wall = time.perf_counter() - t0
    parsed = [parse_react(text, [api]) for api, text in replies]
    return {
        "in_flight": in_flight, "constrained": constrained, "replies": len(replies),
        "tokens_per_s": (llm.completion_tokens - tokens0) / wall, "wall_s": wall,
        "well_formed_share": sum(isinstance(p, Call | Final) for p in parsed) / len(parsed),
        "call_share": sum(isinstance(p, Call) for p in parsed) / len(parsed),
    }


async def run(n_prompts: int, max_tokens: int) -> dict[str, Any]:
    items = act_prompts(n_prompts)
    results = []
    async with EmbeddedServer() as server:
        async with LlmClient([server.url], "default", concurrency=server.slots,
                             timeouts=Timeouts(read=600, total=900),
                             retry=RetryConfig()) as llm:
            for constrained in (False, True):
                for in_flight in (1, server.slots):
                    r = await variant(llm, items, in_flight, constrained, max_tokens)
                    results.append(r)
                    print(f"{'grammar' if constrained else 'free   '} {in_flight:>2} in flight: "
                          f"{r['tokens_per_s']:6.1f} tokens/s, well-formed "
                          f"{100 * r['well_formed_share']:5.1f}%, calls "
                          f"{100 * r['call_share']:5.1f}% ({r['wall_s']:.0f}s)", flush=True)
        return {"slots": server.slots, "model": server.command[2], "runs": results}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=24)
    p.add_argument("--max-tokens", type=int, default=160)
    args = p.parse_args()
    result = anyio.run(run, args.prompts, args.max_tokens)
    path = write_result("embedded", {"prompts": args.prompts, "max_tokens": args.max_tokens,
                                     **result})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
